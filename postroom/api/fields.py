"""Input types the routes share, each validated exactly as the published schema says.

pydantic reads more than the schema promises: `date` takes `0` (a Unix time),
so a query the schema calls malformed would be answered 200. These types
refuse what their schema refuses.
"""

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator

ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    if isinstance(value, date) or (isinstance(value, str) and ISO_DAY.fullmatch(value)):
        return value
    raise ValueError("a day is YYYY-MM-DD")


# A calendar day, `YYYY-MM-DD` (OpenAPI's `format: date`) and nothing else.
Day = Annotated[date, BeforeValidator(_iso_day)]
