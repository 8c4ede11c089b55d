from tests.campaigns.fixtures import ann, campaign, news  # noqa: F401
