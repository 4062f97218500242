"""Cases (交办 → 处置 → 复查 → 办结): staff dispatch, resolve on the spot and recheck; handlers accept, return
and dispose; the reporter, staff and the unit read a case and its photos; admins make units."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, MultipartBody, QueryParameter

from points.cases import extensions, rating, reading, units
from points.cases import workflow as cases
from points.infra.photo_store import PhotoStore
from points.ops.dispatch import Dispatcher
from points.reports.intake import PhotoLimits
from points.vocabulary import CaseState
from rules import Rules
from web import flows
from web.auth import admin_only, handlers_only, staff_only
from web.photos import photo_response, read_files
from web.schemas.base import IdPath, IdQuery, PhotoSize, limit_query
from web.schemas.cases import (
    CaseNoteIn,
    CaseOut,
    CasePhotosForm,
    DispatchIn,
    ExtensionDecisionIn,
    ExtensionIn,
    RatingIn,
    RecheckIn,
    RecheckPhotosForm,
    UnitIn,
    UnitOut,
)


class CaseController(Controller):
    """Reading a case: its reporter, staff of its community, a handler of its unit (anyone else: 404)."""

    path = "/api/v1/cases"
    tags = ["cases"]

    @get("/{case_id:int}", operation_id="getCase")
    async def one(self, request: Request, case_id: IdPath) -> CaseOut:
        return msgspec.convert(await reading.view(request.user, case_id), CaseOut)

    @get("/{case_id:int}/photos/{photo_id:int}", operation_id="getCasePhoto", media_type="image/jpeg")
    async def photo(self, request: Request, case_id: IdPath, photo_id: IdPath,
                    store: NamedDependency[PhotoStore], size: PhotoSize = None) -> Response[bytes]:
        name = await reading.photo_path(request.user, case_id, photo_id)
        return await photo_response(store, name, size)


    @get("/{case_id:int}/report-photos/{photo_id:int}", operation_id="getCaseReportPhoto", media_type="image/jpeg")
    async def report_photo(self, request: Request, case_id: IdPath, photo_id: IdPath,
                           store: NamedDependency[PhotoStore], size: PhotoSize = None) -> Response[bytes]:
        """A photo of the case's report, for staff and the unit (to find the problem)."""
        name = await reading.photo_path(request.user, case_id, photo_id, of_report=True)
        return await photo_response(store, name, size)


    @post("/{case_id:int}/rate", operation_id="rateCase", status_code=200)
    async def rate(self, request: Request, case_id: IdPath, data: JSONBody[RatingIn],
                   rules: NamedDependency[Rules]) -> CaseOut:
        """回访: the reporter rates the outcome, 1–5, once, within the rules' days of its closing."""
        return msgspec.convert(await rating.rate(request.user, rules, case_id, data.stars, data.comment), CaseOut)


class StaffCaseController(Controller):
    path = "/api/v1/staff/cases"
    tags = ["cases"]
    guards = [staff_only]

    @get("/", operation_id="staffCases")
    async def listing(self, request: Request,
                      in_state: Annotated[CaseState | None, QueryParameter(name="state")] = None,
                      unit: IdQuery = None, limit: limit_query(200) = 100,
                      needs_look: FromQuery[bool] = False) -> list[CaseOut]:
        """The community's cases (`?state=`, `?unit=`; `?needs_look=true`: escalated or rated unsatisfied),
        soonest deadline first."""
        return msgspec.convert(await reading.listing(request.user, in_state, unit, limit, needs_look), list[CaseOut])

    @post("/{case_id:int}/dispatch", operation_id="dispatchCase", status_code=200)
    async def dispatch(self, request: Request, case_id: IdPath, data: JSONBody[DispatchIn],
                       rules: NamedDependency[Rules], dispatcher: NamedDependency[Dispatcher]) -> CaseOut:
        """交办 to a unit serving the community; the deadline follows from the priority and the calendar."""
        return msgspec.convert(await flows.move_case(dispatcher, cases.dispatch(request.user, rules, case_id, data.unit, data.note)), CaseOut)

    @post("/{case_id:int}/resolve", operation_id="resolveCaseOnSite", status_code=200)
    async def resolve(self, request: Request, case_id: IdPath, data: MultipartBody[CasePhotosForm],
                      store: NamedDependency[PhotoStore], limits: NamedDependency[PhotoLimits],
                      dispatcher: NamedDependency[Dispatcher]) -> CaseOut:
        """就地解决: fixed there and then, with a note and a photo."""
        uploads = await read_files(data.photos, "photos")
        return msgspec.convert(await flows.move_case(dispatcher, cases.resolve_on_site(request.user, case_id, data.note, uploads, store, limits)),
                               CaseOut)

    @post("/{case_id:int}/recheck", operation_id="recheckCase", status_code=200)
    async def recheck(self, request: Request, case_id: IdPath, dispatcher: NamedDependency[Dispatcher]) -> CaseOut:
        """复查 begins."""
        return msgspec.convert(await flows.move_case(dispatcher, cases.recheck(request.user, case_id)), CaseOut)

    @post("/{case_id:int}/conclude", operation_id="concludeCase", status_code=200)
    async def conclude(self, request: Request, case_id: IdPath, data: JSONBody[RecheckIn],
                       rules: NamedDependency[Rules], dispatcher: NamedDependency[Dispatcher]) -> CaseOut:
        """The recheck's finding: fixed (办结), or not (back to the unit with a new deadline; a note is needed)."""
        return msgspec.convert(await flows.move_case(dispatcher, cases.conclude(request.user, rules, case_id, data.fixed, data.note)), CaseOut)

    @post("/{case_id:int}/conclude/photos", operation_id="concludeCaseWithPhotos", status_code=200)
    async def conclude_with_photos(self, request: Request, case_id: IdPath, data: MultipartBody[RecheckPhotosForm],
                                   rules: NamedDependency[Rules], store: NamedDependency[PhotoStore],
                                   limits: NamedDependency[PhotoLimits],
                                   dispatcher: NamedDependency[Dispatcher]) -> CaseOut:
        """The recheck's finding with the checker's own photos of the place (multipart: `fixed`, `note`, files
        `photos`), kept on the finding's timeline event beside the handler's after-photos."""
        uploads = await read_files(data.photos, "photos")
        return msgspec.convert(await flows.move_case(dispatcher, cases.conclude(
            request.user, rules, case_id, data.fixed, data.note, uploads, store, limits)), CaseOut)

    @post("/{case_id:int}/extension", operation_id="decideExtension", status_code=200)
    async def extension(self, request: Request, case_id: IdPath, data: JSONBody[ExtensionDecisionIn]) -> CaseOut:
        """延期: grant the time the unit asked (the deadline moves) or refuse it (a note says why)."""
        return msgspec.convert(await extensions.decide_extension(request.user, case_id, data.grant, data.note), CaseOut)

    @post("/{case_id:int}/reopen", operation_id="reopenUnsatisfied", status_code=200)
    async def reopen(self, request: Request, case_id: IdPath, data: JSONBody[CaseNoteIn],
                     rules: NamedDependency[Rules], dispatcher: NamedDependency[Dispatcher]) -> CaseOut:
        """A closed case its reporter rated 1 or 2: back to its unit with a new deadline, once."""
        return msgspec.convert(await flows.move_case(dispatcher, rating.reopen_unsatisfied(request.user, rules, case_id, data.note)), CaseOut)


class StaffUnitController(Controller):
    path = "/api/v1/staff/units"
    tags = ["cases"]
    guards = [staff_only]

    @get("/", operation_id="staffUnits")
    async def listing(self, request: Request) -> list[UnitOut]:
        """The units serving the staff member's community: where its cases can go."""
        return msgspec.convert(await units.serving(request.user.community_id), list[UnitOut])


class HandlerCaseController(Controller):
    path = "/api/v1/handler/cases"
    tags = ["cases"]
    guards = [handlers_only]

    @get("/", operation_id="handlerCases")
    async def listing(self, request: Request, limit: limit_query(200) = 100) -> list[CaseOut]:
        """The unit's cases in its hands, soonest deadline first."""
        return msgspec.convert(await reading.listing(request.user, limit=limit), list[CaseOut])

    @post("/{case_id:int}/accept", operation_id="acceptCase", status_code=200)
    async def accept(self, request: Request, case_id: IdPath, dispatcher: NamedDependency[Dispatcher]) -> CaseOut:
        return msgspec.convert(await flows.move_case(dispatcher, cases.accept(request.user, case_id)), CaseOut)

    @post("/{case_id:int}/return", operation_id="returnCase", status_code=200)
    async def return_case(self, request: Request, case_id: IdPath, data: JSONBody[CaseNoteIn],
                          rules: NamedDependency[Rules], dispatcher: NamedDependency[Dispatcher]) -> CaseOut:
        """回退: not ours, with the reason; within the rules' window after dispatch."""
        return msgspec.convert(await flows.move_case(dispatcher, cases.return_case(request.user, rules, case_id, data.note)), CaseOut)

    @post("/{case_id:int}/extension", operation_id="askExtension", status_code=200)
    async def extension(self, request: Request, case_id: IdPath, data: JSONBody[ExtensionIn]) -> CaseOut:
        """延期: ask for more time, with a reason, no later than the hard limit."""
        return msgspec.convert(await extensions.ask_extension(request.user, case_id, data.until, data.note), CaseOut)

    @post("/{case_id:int}/dispose", operation_id="disposeCase", status_code=200)
    async def dispose(self, request: Request, case_id: IdPath, data: MultipartBody[CasePhotosForm],
                      store: NamedDependency[PhotoStore], limits: NamedDependency[PhotoLimits],
                      dispatcher: NamedDependency[Dispatcher]) -> CaseOut:
        """处置完成: a note and at least one photo of the fix."""
        uploads = await read_files(data.photos, "photos")
        return msgspec.convert(await flows.move_case(dispatcher, cases.dispose(request.user, case_id, data.note, uploads, store, limits)), CaseOut)


class UnitController(Controller):
    path = "/api/v1/admin/units"
    tags = ["admin"]
    guards = [admin_only]

    @post("/", operation_id="createUnit", status_code=201)
    async def create(self, request: Request, data: JSONBody[UnitIn], rules: NamedDependency[Rules]) -> UnitOut:
        """A unit of a kind the rules file names, serving one or more communities."""
        return msgspec.convert(await units.create_unit(request.user, rules, data.kind, data.name, data.communities),
                               UnitOut)

    @get("/", operation_id="units")
    async def listing(self, request: Request, community: IdQuery = None) -> list[UnitOut]:
        return msgspec.convert(await units.listing(request.user, community), list[UnitOut])
