"""Tasks through the API: members see open tasks, sign up, cancel, check in and out (the site's code or the
phone's place), photograph a patrol's checkpoints and appeal a no-show; staff publish, read the roster and the
rotating code, mark members present, confirm attendance and decide appeals. Each handler calls one flow or
one domain function, as the pages do."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, MultipartBody, QueryParameter

from points.errors import Invalid
from points.infra.photo_store import PhotoStore
from points.ops.dispatch import Dispatcher
from points.reports.intake import PhotoLimits
from points.tasks import attendance, presence, reading, signups
from points.tasks import publishing as tasks
from rules import Rules
from web import flows
from web.auth import staff_only
from web.limits import Limiter
from web.photos import photo_response, read_files
from web.schemas.base import IdPath, PhotoSize, limit_query
from web.schemas.cases import CaseNoteIn
from web.schemas.tasks import (
    AppealDecisionIn,
    AppealIn,
    AppealOut,
    AttendIn,
    CheckpointPhotoForm,
    CodeOut,
    ConfirmIn,
    ConfirmOut,
    CorrectIn,
    CorrectOut,
    PresenceIn,
    PresenceOut,
    RosterOut,
    TaskIn,
    TaskOut,
)

LatQuery = Annotated[float | None, QueryParameter(ge=-90, le=90)]
LngQuery = Annotated[float | None, QueryParameter(ge=-180, le=180)]


def new_task(data: TaskIn) -> tasks.NewTask:
    return tasks.NewTask(**{f: getattr(data, f) for f in data.__struct_fields__ if f != "checkpoints"},
                         checkpoints=[tasks.Place(c.name, c.lat, c.lng, c.what) for c in data.checkpoints])


class TaskController(Controller):
    """A member's side of tasks (their community's only: another community's task is 404)."""

    path = "/api/v1/tasks"
    tags = ["tasks"]

    @get("/", operation_id="openTasks")
    async def open_tasks(self, request: Request, rules: NamedDependency[Rules], lat: LatQuery = None,
                         lng: LngQuery = None, limit: limit_query(100) = 50) -> list[TaskOut]:
        """Tasks one may still join or do: soonest first, or nearest first given `lat` and `lng`."""
        if (lat is None) != (lng is None):
            raise Invalid("location_required", "give both lat and lng, or neither", field="lat")
        near = (lat, lng) if lat is not None and lng is not None else None
        return msgspec.convert(await reading.open_tasks(request.user, rules, near, limit), list[TaskOut])

    @get("/mine", operation_id="myTasks")
    async def mine(self, request: Request, rules: NamedDependency[Rules], limit: limit_query(100) = 50) -> list[TaskOut]:
        """The tasks one signed up for, with how each went (`my_signup`), the latest first."""
        return msgspec.convert(await reading.mine(request.user, rules, limit), list[TaskOut])

    @get("/{task_id:int}", operation_id="getTask")
    async def one(self, request: Request, task_id: IdPath, rules: NamedDependency[Rules]) -> TaskOut:
        return msgspec.convert(await reading.view(request.user, rules, task_id), TaskOut)

    @post("/{task_id:int}/signup", operation_id="signUpForTask", status_code=200)
    async def signup(self, request: Request, task_id: IdPath, rules: NamedDependency[Rules]) -> TaskOut:
        """Take a slot: refused when full, closed, overlapping another of one's tasks, or past the item's cap."""
        return msgspec.convert(await signups.signup(request.user, rules, task_id), TaskOut)

    @post("/{task_id:int}/cancel", operation_id="cancelTaskSignup", status_code=200)
    async def cancel(self, request: Request, task_id: IdPath, rules: NamedDependency[Rules]) -> TaskOut:
        """Give the slot back, before sign-up closes."""
        return msgspec.convert(await signups.cancel(request.user, rules, task_id), TaskOut)

    @post("/{task_id:int}/checkin", operation_id="checkIn", status_code=200)
    async def checkin(self, request: Request, task_id: IdPath, data: JSONBody[PresenceIn],
                      rules: NamedDependency[Rules], dispatcher: NamedDependency[Dispatcher],
                      limiter: NamedDependency[Limiter]) -> PresenceOut:
        """Check in with the code shown on site (`code`), or by the phone's place (`lat`, `lng`)."""
        return msgspec.convert(await flows.be_there(request, dispatcher, limiter, rules, task_id, False, data.code,
                                                    data.lat, data.lng), PresenceOut)

    @post("/{task_id:int}/checkout", operation_id="checkOut", status_code=200)
    async def checkout(self, request: Request, task_id: IdPath, data: JSONBody[PresenceIn],
                       rules: NamedDependency[Rules], dispatcher: NamedDependency[Dispatcher],
                       limiter: NamedDependency[Limiter]) -> PresenceOut:
        """Check out the same ways; the hours run from check-in to check-out."""
        return msgspec.convert(await flows.be_there(request, dispatcher, limiter, rules, task_id, True, data.code,
                                                    data.lat, data.lng), PresenceOut)

    @post("/{task_id:int}/checkpoints/{checkpoint_id:int}/photo", operation_id="photographCheckpoint",
          status_code=200)
    async def checkpoint(self, request: Request, task_id: IdPath, checkpoint_id: IdPath,
                         data: MultipartBody[CheckpointPhotoForm], rules: NamedDependency[Rules],
                         dispatcher: NamedDependency[Dispatcher], store: NamedDependency[PhotoStore],
                         limits: NamedDependency[PhotoLimits]) -> PresenceOut:
        """A patrol's photo at a checkpoint (file `photo`; `lat`, `lng` if the photo carries no place)."""
        upload = next(iter(await read_files(data.photo, "photo")), b"")
        return msgspec.convert(await flows.checkpoint_photo(request, dispatcher, rules, store, limits, task_id,
                                                            checkpoint_id, upload, data.lat, data.lng), PresenceOut)

    @post("/{task_id:int}/appeal", operation_id="appealNoShow", status_code=200)
    async def appeal(self, request: Request, task_id: IdPath, data: JSONBody[AppealIn],
                     rules: NamedDependency[Rules]) -> AppealOut:
        """A no-show says why, once, within the rules' days."""
        return msgspec.convert(await attendance.appeal(request.user, rules, task_id, data.reason), AppealOut)

    @get("/{task_id:int}/photos/{photo_id:int}", operation_id="getTaskPhoto", media_type="image/jpeg")
    async def photo(self, request: Request, task_id: IdPath, photo_id: IdPath,
                    store: NamedDependency[PhotoStore], size: PhotoSize = None) -> Response[bytes]:
        name = await presence.photo_path(request.user, task_id, photo_id)
        return await photo_response(store, name, size)


class StaffTaskController(Controller):
    path = "/api/v1/staff/tasks"
    tags = ["tasks"]
    guards = [staff_only]

    @get("/", operation_id="staffTasks")
    async def listing(self, request: Request, rules: NamedDependency[Rules],
                      limit: limit_query(200) = 100) -> list[TaskOut]:
        return msgspec.convert(await reading.listing(request.user, rules, limit), list[TaskOut])

    @post("/", operation_id="publishTask")
    async def publish(self, request: Request, data: JSONBody[TaskIn], rules: NamedDependency[Rules]) -> TaskOut:
        """Publish an activity, a patrol (with `checkpoints`) or a recheck of a `case` in the community."""
        return msgspec.convert(await tasks.publish(request.user, rules, new_task(data)), TaskOut)

    @post("/{task_id:int}/cancel", operation_id="callOffTask", status_code=200)
    async def call_off(self, request: Request, task_id: IdPath, data: JSONBody[CaseNoteIn],
                       rules: NamedDependency[Rules]) -> TaskOut:
        """Call the task off, saying why: no more sign-ups or check-ins, and no no-shows."""
        return msgspec.convert(await tasks.withdraw(request.user, rules, task_id, data.note), TaskOut)

    @get("/{task_id:int}/roster", operation_id="taskRoster")
    async def roster(self, request: Request, task_id: IdPath) -> list[RosterOut]:
        return msgspec.convert(await reading.roster(request.user, task_id), list[RosterOut])

    @get("/{task_id:int}/code", operation_id="taskCode")
    async def code(self, request: Request, task_id: IdPath, rules: NamedDependency[Rules]) -> CodeOut:
        """The code to show on site now (it changes every `code_seconds` of the rules)."""
        return msgspec.convert(await presence.current_code(request.user, rules, task_id), CodeOut)

    @post("/{task_id:int}/attend", operation_id="markPresent", status_code=200)
    async def attend(self, request: Request, task_id: IdPath, data: JSONBody[AttendIn],
                     rules: NamedDependency[Rules]) -> dict:
        """Mark a member present whom staff see on site: `{"member"}`, or `{"code"}` (the member's pass code)."""
        if (data.member is None) == (data.code is None):
            raise Invalid("member_or_code", "name the member, or give their pass code", field="member")
        return await presence.attend(request.user, rules, task_id, data.member, data.code)

    @post("/{task_id:int}/confirm", operation_id="confirmTask", status_code=200)
    async def confirm(self, request: Request, task_id: IdPath, data: JSONBody[ConfirmIn],
                      rules: NamedDependency[Rules], dispatcher: NamedDependency[Dispatcher]) -> ConfirmOut:
        """Confirm everyone present (no `members`), or those named; their points follow."""
        return msgspec.convert(await flows.confirm_task(request, dispatcher, rules, task_id, data.members,
                                                        data.until_end), ConfirmOut)

    @post("/{task_id:int}/correct", operation_id="correctHours", status_code=200)
    async def correct(self, request: Request, task_id: IdPath, data: JSONBody[CorrectIn],
                      rules: NamedDependency[Rules], dispatcher: NamedDependency[Dispatcher]) -> CorrectOut:
        """Correct the hours a confirmed member was counted (with why): the points follow the new hours."""
        return msgspec.convert(await flows.correct_hours(request, dispatcher, rules, task_id, data.member, data.hours,
                                                         data.note), CorrectOut)

    @post("/{task_id:int}/appeals/{member_id:int}", operation_id="decideAppeal", status_code=200)
    async def decide(self, request: Request, task_id: IdPath, member_id: IdPath,
                     data: JSONBody[AppealDecisionIn]) -> AppealOut:
        """Grant a no-show's appeal (the penalty comes back) or refuse it."""
        return msgspec.convert(await attendance.decide_appeal(request.user, task_id, member_id, data.grant, data.note),
                               AppealOut)
