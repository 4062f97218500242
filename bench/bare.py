"""The anchor of bench/growth.py: a bare litestar app, one JSON endpoint, served with the same uvicorn settings as
the app — what this machine's framework and server do with no work behind them."""

from litestar import Litestar, get


@get("/bare", sync_to_thread=False)
def bare() -> dict[str, bool]:
    return {"ok": True}


app = Litestar(route_handlers=[bare])
