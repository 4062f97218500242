"""The litestar application factory: routes, auth, errors, OpenAPI and lifespan."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from litestar import Litestar
from litestar.datastructures import State
from litestar.logging.config import LoggingConfig
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from points.areas import schemes
from points.infra import changes, db, logs
from points.infra.config import Settings, settings
from points.infra.photo_store import photo_store
from points.infra.sms import make_sender
from points.ops.dispatch import make_dispatcher
from points.reports.intake import PhotoLimits
from web import assets
from web.auth import AuthMiddleware, signed_in
from web.controllers.admin import AdminController
from web.controllers.auth import AuthController
from web.controllers.cases import (
    CaseController,
    HandlerCaseController,
    StaffCaseController,
    StaffUnitController,
    UnitController,
)
from web.controllers.forwarding import CallbackController, ForwardingController, StaffOutboxController
from web.controllers.me import MeController
from web.controllers.members import MembersController
from web.controllers.open311 import Open311Controller
from web.controllers.pages_admin import AdminPages
from web.controllers.pages_cases import HandlerPages, StaffCasePages
from web.controllers.pages_member import MemberPages
from web.controllers.pages_public import PublicPages
from web.controllers.pages_staff import StaffPages
from web.controllers.pages_tasks import MemberTaskPages, StaffTaskPages
from web.controllers.public import PublicController
from web.controllers.shop import CounterController, ShopController
from web.controllers.staff import StaffController
from web.controllers.submissions import SubmissionController
from web.controllers.tasks import StaffTaskController, TaskController
from web.deps import DEPENDENCIES
from web.errors import HANDLERS
from web.guard import InputGuard
from web.limits import Limiter
from web.metrics import metrics_routes, request_metrics
from web.request_log import RequestIds
from web.sessions import Sessions, make_store
from web.view_cache import ChangeAnnouncer, ViewCache

WEB = Path(__file__).parent


def _with_i18n(engine: JinjaTemplateEngine) -> None:
    """jinja2's i18n extension ({% trans %}, and Babel's extraction); each page's gettext is its visitor's
    language, passed in with the page (web/pages.py)."""
    engine.engine.add_extension("jinja2.ext.i18n")
    engine.engine.globals["static"] = assets.url  # every page, error pages too, links static files by content


def create_app(config: Settings | None = None) -> Litestar:
    config = config or settings()
    logs.install_record_factory()
    rules = schemes.current()
    state = State({
        "settings": config,
        "store": photo_store(config),
        "limits": PhotoLimits(config.max_photos, config.max_photo_bytes, config.max_photo_pixels),
        "dispatcher": make_dispatcher(config.redis_url, config.sweep_seconds),
        "sessions": Sessions(make_store(config), config),
        "limiter": Limiter(config.rate_limits, config.redis_url),
        "sender": make_sender(config.sms_sender),
        "views": ViewCache(config.view_cache_mb * 1_000_000),
    })

    @asynccontextmanager
    async def lifespan(app: Litestar):
        if not config.is_postgres:
            db.prepare_sqlite_file(str(config.sqlite_path))
        await db.start(config.pg_pool_max, name="jifen-app")
        await schemes.record_version(rules)
        await app.state.dispatcher.start()
        # Views are kept between requests only where every process hears every change: over Redis.
        listener = asyncio.create_task(changes.listen(config.redis_url)) \
            if config.redis_url and config.view_cache_mb else None
        try:
            yield
        finally:
            if listener is not None:
                listener.cancel()
                with suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(listener, 5)  # a shutdown never waits for ever on Redis
            await changes.close()
            await app.state.dispatcher.stop()
            await app.state.limiter.close()
            await app.state.sessions.close()
            await db.stop()

    return Litestar(
        route_handlers=[AuthController, MeController, SubmissionController, StaffController, MembersController,
                        AdminController, PublicController, ShopController, CounterController,
                        CaseController, StaffCaseController, StaffUnitController, HandlerCaseController, UnitController,
                        TaskController, StaffTaskController, ForwardingController, StaffOutboxController,
                        CallbackController,
                        PublicPages, MemberPages, StaffPages, AdminPages, HandlerPages, StaffCasePages, MemberTaskPages,
                        StaffTaskPages, Open311Controller, *metrics_routes(config),
                        create_static_files_router(path="/static", directories=[assets.STATIC], cache_control=assets.KEEP,
                                                   opt={"public": True, "own_auth": True}, include_in_schema=False)],
        template_config=TemplateConfig(directory=WEB / "templates", engine=JinjaTemplateEngine,
                                       engine_callback=_with_i18n),
        dependencies=DEPENDENCIES,
        middleware=[*request_metrics(config), RequestIds(access_lines=config.log_format == "json"), InputGuard(),
                    ChangeAnnouncer(), AuthMiddleware()],
        guards=[signed_in],  # every route needs a signed-in actor unless its handler says public=True
        exception_handlers=HANDLERS,
        state=state,
        lifespan=[lifespan],
        # A report may carry several photos; each is limited again on its own.
        request_max_body_size=config.max_photos * config.max_photo_bytes + 1_000_000,
        logging_config=LoggingConfig(root={"level": config.log_level, "handlers": ["queue_listener"]},
                                     formatters={"standard": logs.formatter_config(config.log_format)},
                                     log_exceptions="never"),  # web/errors.py logs what went wrong, once
        openapi_config=OpenAPIConfig(title="Jifen API", version="1", path="/schema",
                                     render_plugins=[JsonRenderPlugin()]),
    )
