"""The task pages. Members: open tasks (nearest first when the phone gives its place), a task's page to sign up,
cancel, check in and out (the site's code — scanned, or typed — or "I'm here" by place), photograph a patrol's
checkpoints and appeal a no-show. Staff: their tasks and the publish form (copied from the last task), a
task's roster (mark present, confirm everyone present, decide appeals) and the rotating code full screen.
Each form calls the flow or domain function the API calls."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from points.errors import DomainError, Invalid
from points.infra.photo_store import PhotoStore
from points.ops.dispatch import Dispatcher
from points.reports.intake import PhotoLimits
from points.tasks import attendance, presence, reading, signups
from points.tasks import publishing as tasks
from points.vocabulary import TaskKind
from rules import Rules, fields
from web import flows, i18n
from web.auth import reporters_only, staff_only
from web.limits import Limiter
from web.pages import act, back, field_errors, form, form_ids, form_number, render
from web.schemas.base import IdPath, IdQuery

CodeQuery = Annotated[str | None, QueryParameter(max_length=fields.TASK_CODE.max_length, pattern=r"^[0-9]*$")]
LatQuery = Annotated[float | None, QueryParameter(ge=-90, le=90)]
LngQuery = Annotated[float | None, QueryParameter(ge=-180, le=180)]


def _place(data: dict[str, Any]) -> tuple[float | None, float | None]:
    """A form's lat and lng (hidden fields the page's script fills from the phone), or (None, None)."""
    try:
        lat, lng = form_number(data, "lat", kind=float), form_number(data, "lng", kind=float)
    except DomainError:
        return None, None
    return (lat, lng) if lat is not None and lng is not None else (None, None)


class MemberTaskPages(Controller):
    path = "/tasks"
    include_in_schema = False
    guards = [reporters_only]

    @get("/")
    async def listing(self, request: Request, rules: NamedDependency[Rules], lat: LatQuery = None,
                      lng: LngQuery = None) -> Template:
        near = (lat, lng) if lat is not None and lng is not None else None
        return render(request, "tasks.html", open=await reading.open_tasks(request.user, rules, near),
                      mine=await reading.mine(request.user, rules, 20), rules=rules, near=near)

    @get("/{task_id:int}")
    async def one(self, request: Request, task_id: IdPath, rules: NamedDependency[Rules],
                  code: CodeQuery = None) -> Template:
        """A task; opened from the site's QR code, with the code ready to send."""
        return render(request, "task.html", t=await reading.view(request.user, rules, task_id), rules=rules,
                      code=code or "", done_checkpoints=await _done(request, task_id))

    @post("/{task_id:int}/{action:str}", status_code=303)
    async def act_on(self, request: Request, task_id: IdPath,
                     action: FromPath[Literal["signup", "cancel", "checkin", "checkout", "appeal"]],
                     rules: NamedDependency[Rules], dispatcher: NamedDependency[Dispatcher],
                     limiter: NamedDependency[Limiter]) -> Redirect:
        data = await form(request)
        here = f"/tasks/{task_id}"
        if action == "signup":
            call = signups.signup(request.user, rules, task_id)
        elif action == "cancel":
            call = signups.cancel(request.user, rules, task_id)
        elif action == "appeal":
            call = attendance.appeal(request.user, rules, task_id, str(data.get("reason", "")))
        else:
            code = str(data.get("code", "")).strip() or None
            lat, lng = (None, None) if code else _place(data)
            call = flows.be_there(request, dispatcher, limiter, rules, task_id, action == "checkout", code, lat, lng)
        return await act(call, here, f"task_{action}")

    @post("/{task_id:int}/checkpoints/{checkpoint_id:int}", status_code=303)
    async def photograph(self, request: Request, task_id: IdPath, checkpoint_id: IdPath, rules: NamedDependency[Rules],
                         dispatcher: NamedDependency[Dispatcher], store: NamedDependency[PhotoStore],
                         limits: NamedDependency[PhotoLimits]) -> Redirect:
        data = await request.form()
        upload = data.get("photo")
        raw = await upload.read() if isinstance(upload, UploadFile) and upload.filename else b""
        lat, lng = _place(dict(data.items()))
        return await act(flows.checkpoint_photo(request, dispatcher, rules, store, limits, task_id, checkpoint_id, raw,
                                                lat, lng), f"/tasks/{task_id}", "task_photo")


async def _done(request: Request, task_id: int) -> list[int]:
    try:
        return (await presence.mine(request.user, task_id))["checkpoints_done"]
    except DomainError:
        return []


class StaffTaskPages(Controller):
    path = "/staff/tasks"
    include_in_schema = False
    guards = [staff_only]

    @get("/")
    async def listing(self, request: Request, rules: NamedDependency[Rules], recheck: IdQuery = None) -> Template:
        """The community's tasks, and the publish form filled in from the last one (copy-from-last), or for a
        recheck of the case the board sent (`?recheck=`)."""
        _ = i18n.translator(i18n.choose(request.cookies))
        data = {"kind": TaskKind.RECHECK, "case": recheck, "item": tasks.RECHECK_ITEM, "slots": 1,
                "title": _("Recheck case {n}: is it fixed?", n=recheck)} if recheck else None
        return await _publish_form(request, rules, data=data)

    @post("/", status_code=303)
    async def publish(self, request: Request, rules: NamedDependency[Rules]) -> Redirect | Template:
        data = await form(request)
        try:
            made = await tasks.publish(request.user, rules, _new_task(data))
        except DomainError as exc:
            if exc.status in (403, 404):
                raise
            return await _publish_form(request, rules, exc.status, field_errors(request, exc), data)
        return back(f"/staff/tasks/{made['id']}", "task_published")

    @get("/{task_id:int}")
    async def roster(self, request: Request, task_id: IdPath, rules: NamedDependency[Rules]) -> Template:
        return render(request, "staff_task.html", t=await reading.view(request.user, rules, task_id),
                      roster=await reading.roster(request.user, task_id), rules=rules)

    @get("/{task_id:int}/code")
    async def code(self, request: Request, task_id: IdPath, rules: NamedDependency[Rules]) -> Template:
        """The site's code, full screen: it turns every `code_seconds`, and the page turns with it."""
        shown = await presence.current_code(request.user, rules, task_id)
        link = f"{str(request.base_url).rstrip('/')}/tasks/{task_id}?code={shown['code']}"
        return render(request, "task_code.html", c=shown, link=link)

    @post("/{task_id:int}/{action:str}", status_code=303)
    async def act_on(self, request: Request, task_id: IdPath,
                     action: FromPath[Literal["confirm", "attend", "grant", "refuse", "cancel", "correct"]],
                     rules: NamedDependency[Rules], dispatcher: NamedDependency[Dispatcher]) -> Redirect:
        data = await form(request)
        here = f"/staff/tasks/{task_id}"
        if action == "cancel":
            return await act(tasks.withdraw(request.user, rules, task_id, str(data.get("note", ""))), here,
                             "task_called_off")
        try:
            chosen = form_ids(data.get("member"), "member")
        except DomainError as exc:
            return back(here, f"error.{exc.code}")
        code = str(data.get("code", "")).strip()
        if action == "confirm":
            call = flows.confirm_task(request, dispatcher, rules, task_id, chosen or None,
                                      data.get("until_end") == "true")
        elif action == "attend" and code:
            call = presence.attend(request.user, rules, task_id, code=code)
        elif not chosen:
            return back(here, "error.required")
        elif action == "attend":
            call = presence.attend(request.user, rules, task_id, chosen[0])
        elif action == "correct":
            try:
                hours = form_number(data, "hours", fields.COUNTED_HOURS)
            except DomainError as exc:
                return back(here, f"error.{exc.code}")
            call = flows.correct_hours(request, dispatcher, rules, task_id, chosen[0], hours or 0,
                                       str(data.get("note", "")))
        else:
            call = attendance.decide_appeal(request.user, task_id, chosen[0], action == "grant",
                                            str(data.get("note", "")))
        return await act(call, here, f"task_{action}")


def _when(data: dict[str, Any], name: str) -> datetime | None:
    raw = str(data.get(name) or "").strip()
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid("invalid_time", f"{name} must be a date and time", field=name) from None


def _checkpoints(text: str) -> list[tasks.Place]:
    """The form's checkpoints, one a line: "name, lat, lng, what to check"."""
    points = []
    for n, line in enumerate(x for x in text.splitlines() if x.strip()):
        parts = [p.strip() for p in line.replace("，", ",").split(",", 3)]
        try:
            points.append(tasks.Place(parts[0], float(parts[1]), float(parts[2]), parts[3] if len(parts) > 3 else ""))
        except (IndexError, ValueError):
            raise Invalid("invalid_checkpoint", "each line: name, lat, lng, what to check", field="checkpoints",
                          line=n + 1) from None
    return points


def _new_task(data: dict[str, Any]) -> tasks.NewTask:
    """The publish form as the domain takes it; a malformed field is refused naming it."""
    starts, ends = _when(data, "starts_at"), _when(data, "ends_at")
    if starts is None or ends is None:
        raise Invalid("required", "the start and the end are needed", field="starts_at" if starts is None else "ends_at")
    case = form_number(data, "case", fields.ID)
    return tasks.NewTask(
        kind=str(data.get("kind", "")), title=str(data.get("title", "")), item=str(data.get("item", "")),
        starts_at=starts, ends_at=ends, slots=form_number(data, "slots") or 0,
        description=str(data.get("description", "")), place=str(data.get("place", "")),
        lat=form_number(data, "lat", kind=float), lng=form_number(data, "lng", kind=float),
        radius_m=form_number(data, "radius_m") or 200, signup_closes_at=_when(data, "signup_closes_at"),
        who=str(data.get("who", "both")), units=form_number(data, "units", fields.UNITS),
        checkpoints=_checkpoints(str(data.get("checkpoints", ""))), case=case)


async def _publish_form(request: Request, rules: Rules, http_status: int = 200,
                        errors: dict[str, list[str]] | None = None, data: dict[str, Any] | None = None) -> Template:
    last = await reading.last_published(request.user, rules)
    if data is None and last:  # copy-from-last: the same task, a week on is for staff to choose
        data = {"kind": last["kind"], "title": last["title"], "item": last["item_id"], "place": last["place"],
                "lat": last["lat"], "lng": last["lng"], "radius_m": last["radius_m"], "slots": last["slots"],
                "who": last["who"], "description": last["description"],
                "checkpoints": "\n".join(f"{c['name']}, {c['lat']}, {c['lng']}, {c['what']}" for c in last["checkpoints"])}
    items = [i for i in rules.items if i.points > 0]
    return render(request, "staff_tasks.html", http_status=http_status, rows=await reading.listing(request.user, rules),
                  items=items, kinds=list(TaskKind), data=data or {}, errors=errors or {},
                  copied=bool(last) and not errors, rules=rules)
