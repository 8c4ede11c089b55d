"""The media library: images for campaign content, files for attachments (docs/media.md)."""
