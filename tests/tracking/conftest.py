from tests.api.conftest import api, token_for  # noqa: F401
from tests.campaigns.fixtures import ann, campaign, news  # noqa: F401
