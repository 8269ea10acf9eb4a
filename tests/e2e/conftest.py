"""The end-to-end tiers: the app served (in this process or as `python app.py`) and used through
gradio_client, plain HTTP and a real browser. Every test here is marked `e2e`: `python -m pytest -m "not e2e"`
leaves them out."""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m selection reads the marks
def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)
