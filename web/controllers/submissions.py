"""Reporting (随手拍): submit a report with photos; read one back; fetch its photos."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import MultipartBody

from points.infra.photo_store import PhotoStore
from points.ops.dispatch import Dispatcher
from points.reports import views as submissions
from points.reports.intake import PhotoLimits, Report
from rules import Rules
from web.auth import reporters_only
from web.flows import file_report
from web.limits import Limiter
from web.photos import photo_response, read_files
from web.schemas.base import IdPath, OptionalIdempotencyKey, PhotoSize
from web.schemas.reports import SubmissionOut, SubmitForm


class SubmissionController(Controller):
    path = "/api/v1/submissions"
    tags = ["submissions"]

    @post("/", operation_id="submit", guards=[reporters_only])
    async def submit(
        self, request: Request, data: MultipartBody[SubmitForm], rules: NamedDependency[Rules],
        store: NamedDependency[PhotoStore], limits: NamedDependency[PhotoLimits],
        dispatcher: NamedDependency[Dispatcher],
        limiter: NamedDependency[Limiter],
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> Response[SubmissionOut]:
        report = Report(item=data.item, description=data.description, lat=data.lat, lng=data.lng,
                        grid=data.grid or None, address=data.address, units=data.units)
        uploads = await read_files(data.photos, "photos")
        view, created = await file_report(request, limiter, dispatcher, rules, store, limits, report, uploads,
                                          idempotency_key)
        return Response(msgspec.convert(view, SubmissionOut), status_code=201 if created else 200)

    @get("/{submission_id:int}", operation_id="getSubmission")
    async def get_one(self, request: Request, submission_id: IdPath,
                      rules: NamedDependency[Rules]) -> SubmissionOut:
        return msgspec.convert(await submissions.member_view(request.user, rules, submission_id), SubmissionOut)

    @get("/{submission_id:int}/photos/{photo_id:int}", operation_id="getPhoto", media_type="image/jpeg")
    async def photo(self, request: Request, submission_id: IdPath, photo_id: IdPath,
                    rules: NamedDependency[Rules], store: NamedDependency[PhotoStore],
                    size: PhotoSize = None) -> Response[bytes]:
        name = await submissions.photo_path(request.user, rules, submission_id, photo_id)
        return await photo_response(store, name, size)
