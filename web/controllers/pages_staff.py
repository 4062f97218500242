"""Community staff's pages (desktop and tablet): the verification queue, one report, member approvals, penalty
appeals, and the shop counter (核销)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from points.areas import grids
from points.cases import figures as case_figures
from points.cases import reading, units
from points.errors import DomainError
from points.ops import stats
from points.ops.dispatch import Dispatcher
from points.people import members
from points.reports import appeals, reversals, review
from points.reports import views as submissions
from points.reports.outcomes import REJECT_REASONS
from points.shop import counter, rewards
from points.vocabulary import MemberStatus, Role, SubmissionStatus
from rules import Rules, fields
from web import flows, i18n
from web.auth import staff_only
from web.i18n import N_
from web.pages import act, back, form, form_ids, form_number, problem, render
from web.schemas.base import IdPath


class StaffPages(Controller):
    path = "/staff"
    include_in_schema = False
    guards = [staff_only]

    @get("/queue")
    async def queue(self, request: Request, rules: NamedDependency[Rules], status: FromQuery[SubmissionStatus] = SubmissionStatus.SUBMITTED,
                    category: FromQuery[str | None] = None, grid: FromQuery[str | None] = None,
                    priority: FromQuery[Literal["P1", "P2", "P3"] | None] = None) -> Template:
        rows = await submissions.queue(request.user, rules, status, 100, 0, category, grid, priority)
        try:
            undo = form_ids(request.query_params.get("undo") or "", "undo")
        except DomainError:
            undo = []  # a hand-edited link: no undo offered
        return render(request, "staff_queue.html", rows=rows, rules=rules, status=status, category=category or "",
                      grid=grid or "", priority=priority or "", grids=await grids.listing(request.user.community_id)
                      if request.user.role != Role.ADMIN else [],
                      batch={r["id"] for r in rows if submissions.batchable(rules, r)}, undo=undo,
                      refused=request.query_params.get("refused", ""), undo_minutes=rules.batch.undo_minutes,
                      appeals_waiting=await appeals.count_waiting(request.user),
                      map=await grids.map_view(request.user.community_id,
                                               [{**r, "priority": r["item"]["priority"] if r["item"] else "P3",
                                                 "href": f"/staff/submissions/{r['id']}"} for r in rows]))

    @post("/queue/approve", status_code=303)
    async def approve_batch(self, request: Request, rules: NamedDependency[Rules]) -> Redirect:
        """批量通过: the simple reports ticked in the queue, each on its own; undoable for a few minutes."""
        try:
            ids = form_ids((await request.form()).getall("id", []))
        except DomainError as exc:
            return back("/staff/queue", f"error.{exc.code}")
        done = await review.verify_batch(request.user, rules, ids)
        return Redirect(f"/staff/queue?done=batch_verified&undo={','.join(map(str, done['verified']))}"
                        f"&refused={len(done['refused'])}", status_code=303)

    @post("/queue/undo", status_code=303)
    async def undo_batch(self, request: Request) -> Redirect:
        try:
            ids = form_ids((await form(request)).get("ids", ""), "ids")
        except DomainError as exc:
            return back("/staff/queue", f"error.{exc.code}")
        back_in_queue = await review.undo_batch(request.user, ids)
        return back("/staff/queue", "batch_undone" if back_in_queue else "error.undo_too_late")

    @get("/submissions/{submission_id:int}")
    async def one(self, request: Request, submission_id: IdPath, rules: NamedDependency[Rules]) -> Template:
        view = await submissions.staff_view(request.user, rules, submission_id)
        # Beside the report: the earlier report of the same thing nearby, and the one whose photo is like its own.
        earlier = {N_("Earlier report nearby"): view["duplicate_of"], N_("Report with a like photo"): view["photo_like"]}
        nearby = [(title, await submissions.staff_view(request.user, rules, sid))
                  for title, sid in earlier.items() if sid is not None]
        return render(request, "staff_submission.html", s=view, nearby=nearby, rules=rules,
                      case=await reading.for_report(request.user, submission_id),
                      units=await units.serving(view["community_id"]),
                      checks=submissions.photo_checks(rules, view), reasons=REJECT_REASONS,
                      reverse_reasons=reversals.REVERSE_REASONS)

    @post("/submissions/{submission_id:int}/{action:str}", status_code=303)
    async def decide(self, request: Request, submission_id: IdPath,
                     action: FromPath[Literal["verify", "reject", "reverse"]], rules: NamedDependency[Rules],
                     dispatcher: NamedDependency[Dispatcher]) -> Redirect:
        data = await form(request)
        note = str(data.get("note", ""))
        if action == "verify":
            async def the_next() -> str:  # approve and open the next report of the queue
                waiting = await submissions.queue(request.user, rules, SubmissionStatus.SUBMITTED, 1)
                return f"/staff/submissions/{waiting[0]['id']}" if waiting else "/staff/queue"

            return await act(flows.verify(request, dispatcher, rules, submission_id, data.get("item") or None, note),
                             the_next, "verified", f"/staff/submissions/{submission_id}")
        if action == "reject":
            call = review.reject(request.user, submission_id, str(data.get("reason", "")), note)
        else:
            call = reversals.reverse_award(request.user, submission_id, str(data.get("reason", "")), note)
        return await act(call, "/staff/queue", f"{action}ed", f"/staff/submissions/{submission_id}")

    @get("/appeals")
    async def appeal_list(self, request: Request) -> Template:
        """The penalty appeals (申诉) waiting for a decision."""
        return render(request, "staff_appeals.html", rows=await appeals.waiting(request.user))

    @post("/appeals/{appeal_id:int}/{action:str}", status_code=303)
    async def appeal_decision(self, request: Request, appeal_id: IdPath,
                              action: FromPath[Literal["grant", "refuse"]]) -> Redirect:
        note = str((await form(request)).get("note", ""))
        return await act(appeals.decide(request.user, appeal_id, action == "grant", note), "/staff/appeals",
                         {"grant": "appeal_granted", "refuse": "appeal_refused"}[action])

    @get("/members")
    async def member_list(self, request: Request, status: FromQuery[MemberStatus] = MemberStatus.PENDING) -> Template:
        return render(request, "staff_members.html", rows=await members.listing(request.user, status, 200, 0),
                      status=status)

    @post("/members/{member_id:int}/{action:str}", status_code=303)
    async def member_action(self, request: Request, member_id: IdPath,
                            action: FromPath[Literal["approve", "decline", "suspend", "reinstate"]]) -> Redirect:
        reason = str((await form(request)).get("reason", ""))
        return await act(members.decide(request.user, member_id, action, reason), "/staff/members",
                         f"member_{action}")

    @get("/counter")
    async def counter(self, request: Request,
                      code: Annotated[str | None, QueryParameter(max_length=20)] = None) -> Template:
        order = error = None
        if code:
            try:
                order = await counter.order_by_code(request.user, code)
            except DomainError as exc:
                error = problem(request, exc)
        return render(request, "staff_counter.html", order=order, code=code or "", error=error)

    @post("/counter", status_code=303)
    async def fulfil(self, request: Request) -> Redirect | Template:
        data = await form(request)
        try:
            await counter.fulfil(request.user, str(data.get("code", "")))
        except DomainError as exc:
            return render(request, "staff_counter.html", http_status=exc.status, order=None, code=data.get("code", ""),
                          error=problem(request, exc))
        return back("/staff/counter", "fulfilled")

    @get("/dashboard")
    async def dashboard(self, request: Request, rules: NamedDependency[Rules], since: FromQuery[date | None] = None,
                        until: FromQuery[date | None] = None) -> Template:
        figures = await stats.dashboard(request.user, rules, since, until)
        start, end = stats.period(since, until, rules)
        community = request.user.community_id
        return render(request, "staff_dashboard.html", d=figures, rules=rules,
                      map=await grids.map_view(community, await grids.open_report_pins(community)),
                      k=await case_figures.figures(request.user, rules, start, end),
                      peak=max([n for _, n in figures["per_day"]] + [1]),
                      categories={c.id: c for c in rules.categories})

    @get("/export/{kind:str}", media_type="text/csv")
    async def export(self, request: Request, kind: FromPath[Literal["submissions", "ledger", "orders", "cases", "tasks"]],
                     rules: NamedDependency[Rules], since: FromQuery[date | None] = None,
                     until: FromQuery[date | None] = None,
                     header: Annotated[Literal["words", "codes"], QueryParameter()] = "words") -> Response[str]:
        """A period's submissions, ledger, orders, cases or tasks as CSV (UTF-8 with a BOM, so spreadsheets read
        the Chinese): its columns named in the page's language, or by their ids with ``header=codes``."""
        out = io.StringIO()
        lang = i18n.choose(request.cookies)
        csv.writer(out).writerows(await stats.export(request.user, kind, rules, since, until, lang,
                                                     i18n.translator(lang), codes=header == "codes"))
        return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="jifen-{kind}.csv"'})

    @get("/shop")
    async def catalogue(self, request: Request) -> Template:
        return render(request, "staff_shop.html", rewards=await rewards.staff_catalogue(request.user))

    @post("/shop/{reward_id:int}/restock", status_code=303)
    async def restock(self, request: Request, reward_id: IdPath) -> Redirect:
        data = await form(request)
        try:
            quantity = form_number(data, "quantity", fields.QUANTITY) or 0
        except DomainError:
            return back("/staff/shop", "error.invalid_quantity")
        return await act(rewards.restock(request.user, reward_id, quantity, str(data.get("reason", ""))), "/staff/shop",
                         "restocked")

    @get("/shop/new")
    async def new_reward(self, request: Request) -> Template:
        return render(request, "staff_reward.html", reward=None, data={})

    @get("/shop/{reward_id:int}")
    async def edit_reward(self, request: Request, reward_id: IdPath) -> Template:
        reward = await rewards.reward(request.user, reward_id)
        return render(request, "staff_reward.html", reward=reward, data=reward)

    @post("/shop/save", status_code=303)
    async def save_reward(self, request: Request) -> Redirect | Template:
        """Add a reward (no `id`) or change one; the fields are checked as the catalogue file's are."""
        data = await request.form()
        sent: dict = {k: data.get(k, "") for k in ("code", "name_zh", "name_en", "kind", "description")}
        sent["roles"] = data.getall("roles", [])
        reward_id = 0
        try:
            reward_id = form_number(data, "id", fields.ID) or 0
            sent["price"] = form_number(data, "price")
            if data.get("limit_count"):
                sent["limit"] = {"count": form_number(data, "limit_count"), "period": data.get("limit_period", "")}
            spec = rewards.reward_spec({**sent, "stock": 0})
            if reward_id:
                await rewards.update_reward(request.user, reward_id, spec, data.get("active") == "on")
            else:
                reward_id = await rewards.create_reward(request.user, spec)
        except DomainError as exc:
            if exc.status == 404:
                raise
            where = f" ({exc.field}: {exc.message})" if exc.field else ""
            return render(request, "staff_reward.html", http_status=exc.status, error=problem(request, exc) + where,
                          field=exc.field, reward={"id": reward_id} if reward_id else None, data=sent)
        return back("/staff/shop", "saved")
