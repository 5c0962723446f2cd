"""The citizen's form as Starlette routes, served beside the Streamlit app.

    GET  /s/<token>            the form (?lang=en for English)
    POST /s/<token>/gui        submit: stored once, then 303 to the thank-you page
    GET  /s/<token>/cam-on     the thank-you page, with the receipt code from its cookie

A single-use link (a longer token naming a row of `single_use_link`, survey/single_use.py)
opens the same form; the writer marks it used in the transaction that stores its response.
Afterwards it shows "phiếu này đã được trả lời", with the receipt when the browser that
answered kept it (a cookie scoped to the link, set on the answer's redirect; the database
keeps no tie between the link and the response).

The receipt never appears in an address: the thank-you redirect sets it in a short-lived
cookie (see `THANKS_COOKIE`), so a proxy's access log, which records addresses but not
cookies, cannot tie a logged request to a stored response.

The form posts to its own address (`/gui`), not to the form's: a POST makes the
browser drop its cached copy of the address posted to, and the cached form is what
lets the back button show the same hidden key again, so that a resubmission shows
the same receipt instead of storing a second response.

Every failure is a plain page with a 4xx/5xx status, never a traceback, and
nothing half-written: a response and its answers are stored in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from survey.answer_codes import codec_of
from survey.db import new_session
from survey.links import LinkClaims, LinkError, check_campaign, read_token
from survey.models import Campaign, QuestionnaireVersion, utcnow
from survey.questionnaire import Questionnaire
from survey.storage import StorageError
from survey.storage.campaigns import (
    LinkState,
    campaign_details,
    campaign_has_receipt,
    get_campaign,
)
from survey.storage.new_responses import NewResponse
from survey.storage.questionnaires import questionnaire_of
from survey.storage.responses import find_response_by_key
from survey.storage.single_use_links import link_is_used
from survey.webform.abuse import (
    AbuseGuard,
    AbuseLimits,
    flag_reasons,
)
from survey.webform.compression import SlottedPage, accepts_gzip
from survey.webform.http import (
    SECURITY_HEADERS,
    BadSubmission,
    BodyTooLarge,
    ServerResources,
    allowing_script,
    html_page,
    parse_fields,
    read_body,
)
from survey.webform.keys import (
    form_key_nonce,
    idempotency_key,
    is_receipt,
    new_form_key,
    new_receipt,
)
from survey.webform.peer import request_address
from survey.webform.render import (
    KEEP_ANSWERS_HASH,
    KEY_FIELD,
    LANG_FIELD,
    FormHeader,
    FormLinks,
    FormState,
    normal_lang,
    render_form,
    render_message,
    render_thanks,
    render_used,
)
from survey.webform.submission import Submission, missing_answers, parse_submission
from survey.webform.writer import PendingResponse, ResponseWriter

_LOG = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
SUBMIT_PATH = "gui"  # gửi: posting to its own address keeps the browser's cached form (and key)
FORM_CACHE_SECONDS = 300.0
LINK_STATE_SECONDS = 2.0  # how long a campaign's link state read from the database is trusted
FORM_CACHE_SIZE = 2048
BLANK_FORM_CACHE_SIZE = 512  # rendered blank forms (about 25 KB each) by campaign and language
# Where the rendered blank form carries its key: random, so no text of a page can hold it.
_KEY_SLOT = "key-" + secrets.token_hex(16)
# The form may be kept by the browser for the back button: a resubmission then
# carries the same key and shows the same receipt instead of storing twice.
_FORM_HEADERS = allowing_script(
    {**SECURITY_HEADERS, "Cache-Control": "private, max-age=0"}, KEEP_ANSWERS_HASH
)
# The receipt goes from the submit to the thank-you page in a cookie, not in the address
# (`cam-on?r=<receipt>` put it in every proxy's access log, beside a time and an address,
# and the receipt names the stored row). Why a cookie: the answer is still a 303 to a GET
# (post/redirect/get: a reload does not ask to send the form again, the no-JS form and the
# answer keeper's fetch work unchanged), and a cookie reaches only the browser that sent the
# form. It is HttpOnly (no script reads it), SameSite=Strict (only this site's own requests
# carry it: the redirect and a reload), Secure on https, lives `THANKS_COOKIE_SECONDS`, and
# has no Path attribute, so the browser scopes it to the directory of the address posted to,
# /s/<token>/ (an explicit Path would have to spell the public path, which a proxy mounting
# the form under a prefix changes). Because the thank-you address is now the same for every
# citizen of a link, its page is never cached (`no-store`): on a shared tablet the next
# citizen must not be shown the previous one's page.
THANKS_COOKIE = "bn"  # biên nhận
THANKS_COOKIE_SECONDS = 600
_VARY = {"Vary": "Accept-Encoding"}
_GZIPPED = {**_VARY, "Content-Encoding": "gzip"}


# --- the service -------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignForm:
    """What the form of one campaign needs; kept briefly in memory."""

    campaign_id: int
    unit_id: int
    period: str
    version: QuestionnaireVersion
    header: FormHeader

    @property
    def questionnaire(self) -> Questionnaire:
        return self.header.questionnaire


@dataclass(frozen=True)
class Place:
    """Relative links from the page a request came to (the form or its submit address)."""

    links: FormLinks
    thanks: str  # the thank-you page (the receipt goes in a cookie, never in this address)

    @classmethod
    def of(cls, token: str, *, on_submit_path: bool) -> Place:
        if on_submit_path:  # /s/<token>/gui
            return cls(FormLinks(action=SUBMIT_PATH, form=f"../{token}"), "cam-on")
        return cls(FormLinks(action=f"{token}/{SUBMIT_PATH}", form=token), f"{token}/cam-on")


def message_response(kind: str, lang: str = "vi", retry_at: Place | None = None) -> HTMLResponse:
    """An error page; `retry_at` adds a "try again" link back to the form."""
    retry_href = f"{retry_at.links.form}?lang={lang}" if retry_at else None
    status, page = render_message(kind, lang=lang, retry_href=retry_href)
    return html_page(page, status)


class FormService(ServerResources):
    """The form's request handlers, with their engine, secret, abuse guard and writer.

    What a campaign's form needs is kept in memory (`FORM_CACHE_SECONDS`), and so is the
    state of its link for `link_state_seconds`: within that time a form is served without
    asking the database. Storing always checks the link in the database, in the same
    transaction as the insert, so a closed or revoked link never stores a response; a
    form may at most be shown for `link_state_seconds` after its link ended.
    """

    def __init__(
        self,
        *,
        engine: Engine | None = None,
        secret: bytes | None = None,
        limits: AbuseLimits | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        link_state_seconds: float = LINK_STATE_SECONDS,
    ):
        super().__init__(engine=engine, secret=secret)
        self.guard = AbuseGuard(limits or AbuseLimits.from_env())
        self.max_body_bytes = max_body_bytes
        self.link_state_seconds = link_state_seconds
        self._forms: dict[int, tuple[float, CampaignForm]] = {}
        self._links: dict[int, tuple[float, LinkState]] = {}
        self._forms_lock = threading.Lock()
        self._blank_pages: dict[tuple[int, str, FormLinks], tuple[CampaignForm, SlottedPage]] = {}
        self._writer: ResponseWriter | None = None
        self._reads: dict[tuple[LinkClaims, asyncio.AbstractEventLoop], asyncio.Task] = {}

    @property
    def writer(self) -> ResponseWriter:
        if self._writer is None:
            self._writer = ResponseWriter(self.engine)
        return self._writer

    # -- campaign lookup, with a short-lived memory of each campaign's form --

    def _form_of(self, session, campaign: Campaign) -> CampaignForm:
        with self._forms_lock:
            cached = self._forms.get(campaign.id)
        if cached and time.monotonic() - cached[0] < FORM_CACHE_SECONDS:
            return cached[1]
        unit, version = campaign_details(session=session, campaign=campaign)
        form = CampaignForm(
            campaign.id,
            campaign.unit_id,
            campaign.period,
            version,
            FormHeader(unit.name, campaign.period, questionnaire_of(version)),
        )
        with self._forms_lock:
            if len(self._forms) >= FORM_CACHE_SIZE:
                self._forms.clear()
                self._links.clear()
            self._forms[campaign.id] = (time.monotonic(), form)
        return form

    def _remembered_form(self, campaign_id: int) -> CampaignForm | None:
        """The form last seen for a campaign, however old (to re-render when the DB is down)."""
        with self._forms_lock:
            cached = self._forms.get(campaign_id)
        return cached[1] if cached else None

    def _open_form(self, claims: LinkClaims) -> CampaignForm:
        """The form of the open campaign the claims name, read from the database; LinkError
        when the link is not usable."""
        with new_session(self.engine) as session:
            campaign = get_campaign(session=session, campaign_id=claims.campaign_id)
            if campaign is not None:
                state = LinkState(
                    campaign.id, campaign.status, campaign.link_generation, campaign.expires_at
                )
                with self._forms_lock:
                    self._links[campaign.id] = (time.monotonic(), state)
            return self._form_of(session, check_campaign(campaign, claims))

    def _known_form(self, claims: LinkClaims) -> CampaignForm | None:
        """The form from memory when its link state is recent enough (LinkError when that
        state refuses the link); None when the database must be asked."""
        now = time.monotonic()
        with self._forms_lock:
            link = self._links.get(claims.campaign_id)
            form = self._forms.get(claims.campaign_id)
        if (
            link is None
            or form is None
            or now - link[0] >= self.link_state_seconds
            or now - form[0] >= FORM_CACHE_SECONDS
        ):
            return None
        check_campaign(link[1], claims)
        return form[1]

    async def _current_form(self, claims: LinkClaims) -> CampaignForm:
        """The form of the campaign, from memory or (in a worker thread) the database.

        One read per link at a time: the requests that find the memory stale together (a
        busy form, every `link_state_seconds`) wait for the same read, not one each.
        """
        known = self._known_form(claims)
        if known is not None:
            return known
        loop = asyncio.get_running_loop()
        flight = self._reads.get((claims, loop))
        if flight is None:
            flight = loop.create_task(run_in_threadpool(self._open_form, claims))
            self._reads[(claims, loop)] = flight
            flight.add_done_callback(lambda _: self._reads.pop((claims, loop), None))
        return await asyncio.shield(flight)

    # -- GET /s/<token> --

    def _form_page(
        self, form: CampaignForm, lang: str, place: Place, request: Request, scope: str
    ) -> Response:
        """The blank form with a fresh key, gzip-compressed when the browser takes it."""
        page = self._blank_form(form, lang, place.links)
        key = new_form_key(scope, self.secret)
        if accepts_gzip(request.headers.get("accept-encoding", "")):
            return Response(
                page.gzipped(key), 200, {**_FORM_HEADERS, **_GZIPPED}, media_type="text/html"
            )
        return Response(page.plain(key), 200, {**_FORM_HEADERS, **_VARY}, media_type="text/html")

    def _blank_form(self, form: CampaignForm, lang: str, links: FormLinks) -> SlottedPage:
        """The unanswered form with a slot for its key, rendered once per campaign form."""
        with self._forms_lock:
            cached = self._blank_pages.get((form.campaign_id, lang, links))
        if cached is not None and cached[0] is form:
            return cached[1]
        page = SlottedPage(
            render_form(form.header, FormState(form_key=_KEY_SLOT, lang=lang), links), _KEY_SLOT
        )
        with self._forms_lock:
            if len(self._blank_pages) >= BLANK_FORM_CACHE_SIZE:
                self._blank_pages.clear()
            self._blank_pages[(form.campaign_id, lang, links)] = (form, page)
        return page

    # -- POST /s/<token>/gui (and /s/<token>) --

    async def _accept(
        self, token: str, body: bytes, content_type: str, address: str, lang: str, place: Place,
        scheme: str = "http", cookies: dict[str, str] | None = None,
    ) -> Response:
        database_down, secure = False, scheme == "https"
        try:
            claims = read_token(token, secret=self.secret)
            form = await self._current_form(claims)
        except LinkError as exc:
            return await self._link_ended(exc, token, body, content_type, lang, place,
                                          secure=secure)
        except OperationalError:
            _LOG.warning("form: database unavailable", exc_info=True)
            form, database_down = self._remembered_form(claims.campaign_id), True
            if form is None:
                return message_response("unavailable", lang, place)
        try:
            fields = parse_fields(body, content_type)
            lang = normal_lang(dict(fields).get(LANG_FIELD, lang))
            submission = parse_submission(fields, form.questionnaire)
        except BadSubmission as exc:
            _LOG.info("form: bad submission for campaign #%s: %s", claims.campaign_id, exc)
            return message_response("bad_request", lang)
        nonce = form_key_nonce(submission.form_key, claims.key_scope, self.secret)
        if nonce is None:
            return message_response("bad_request", lang)
        state = FormState(
            form_key=submission.form_key,
            lang=lang,
            group=submission.group,
            answers=submission.answers,
            missing=missing_answers(submission, form.questionnaire),
        )
        if database_down:
            return self._retry(form, state, place)
        if state.missing:
            return html_page(render_form(form.header, state, place.links), 422, _FORM_HEADERS)
        reason = flag_reasons(
            honeypot_value=submission.honeypot, burst=self.guard.is_burst(address)
        )
        pending = PendingResponse(claims, self._new_response(form, submission, nonce, reason))
        try:
            receipt, created = await self.writer.store(pending)
        except LinkError as exc:
            return await self._link_ended(
                exc, token, body, content_type, lang, place, cookies, claims, secure=secure
            )
        except OperationalError:
            _LOG.warning("form: could not store a response", exc_info=True)
            return self._retry(form, state, place)
        except (StorageError, IntegrityError) as exc:
            _LOG.info("form: refused by storage for campaign #%s: %s", form.campaign_id, exc)
            return message_response("bad_request", lang)
        if created:
            self.guard.note_response(address)
        answered = self._to_thanks(receipt or "", lang, place, secure=secure)
        if claims.link_id is not None and receipt:
            _keep_receipt(answered, claims, receipt, secure=secure)
        return answered

    @staticmethod
    def _new_response(
        form: CampaignForm, submission: Submission, nonce: str, reason: str | None
    ) -> NewResponse:
        return NewResponse(
            unit_id=form.unit_id,
            period=form.period,
            questionnaire_version_id=form.version.id,
            group_code=submission.group,
            answers=codec_of(form.questionnaire).encode(submission.answers),
            idempotency_key=idempotency_key(form.campaign_id, nonce),
            channel="qr",
            campaign_id=form.campaign_id,
            receipt=new_receipt(),
            flagged=reason is not None,
            flag_reason=reason,
        )

    @staticmethod
    def _to_thanks(receipt: str, lang: str, place: Place, *, secure: bool) -> Response:
        """303 to the thank-you page, the receipt in its cookie (the language, which names
        no one, stays in the address)."""
        query = "?lang=en" if lang == "en" else ""
        answered = RedirectResponse(place.thanks + query, status_code=303)
        if receipt:
            _set_receipt_cookie(answered, THANKS_COOKIE, receipt, THANKS_COOKIE_SECONDS,
                                samesite="strict", secure=secure)
        return answered

    async def _link_ended(
        self, error: LinkError, token: str, body: bytes, content_type: str, lang: str, place: Place,
        cookies: dict[str, str] | None = None, claims: LinkClaims | None = None, *,
        secure: bool,
    ) -> Response:
        """The error page; but a retry of a form stored before the link ended gets its receipt,
        and a used single-use link says so."""
        if error.reason not in ("tampered", "unknown"):
            try:
                receipt = await run_in_threadpool(
                    self._earlier_receipt, token, body, content_type
                )
            except OperationalError:
                receipt = None
            if receipt:
                return self._to_thanks(receipt, lang, place, secure=secure)
        if error.reason == "used" and claims is not None:
            return self._used_page(claims, cookies or {}, lang)
        return message_response(error.reason, lang)

    def _used_page(self, claims: LinkClaims, cookies: dict[str, str], lang: str) -> Response:
        """"Phiếu này đã được trả lời", with the receipt this browser kept, if any."""
        receipt = cookies.get(_receipt_cookie(claims), "")
        form = self._remembered_form(claims.campaign_id)
        page = render_used(receipt=receipt if is_receipt(receipt) else "", lang=lang,
                           header=form.header if form else None)
        return html_page(page)

    def _earlier_receipt(self, token: str, body: bytes, content_type: str) -> str | None:
        try:
            claims = read_token(token, secret=self.secret, allow_expired=True)
            key = dict(parse_fields(body, content_type)).get(KEY_FIELD, "")
        except (LinkError, BadSubmission):
            return None
        nonce = form_key_nonce(key, claims.key_scope, self.secret)
        if nonce is None:
            return None
        with new_session(self.engine) as session:
            earlier = find_response_by_key(
                session=session, idempotency_key=idempotency_key(claims.campaign_id, nonce)
            )
            return earlier.receipt if earlier is not None else None

    def _retry(self, form: CampaignForm, state: FormState, place: Place) -> Response:
        retry_state = FormState(
            form_key=state.form_key,
            lang=state.lang,
            group=state.group,
            answers=state.answers,
            notice="retry",
        )
        return html_page(render_form(form.header, retry_state, place.links), 503, _FORM_HEADERS)

    # -- GET /s/<token>/cam-on --

    def _thanks(self, token: str, receipt: str, lang: str) -> Response:
        """The thank-you page; the receipt (from the cookie) only when it is one of this
        campaign's. Without one (no cookie, expired, forged, another link's) the same page
        without a receipt: it neither claims a form was recorded nor says one was lost. A
        citizen who reloads after the cookie expired has sent the form (the redirect came
        only after it was stored); "receipt not found" would invite a second, new form."""
        try:
            claims = read_token(token, secret=self.secret, allow_expired=True)
        except LinkError as exc:
            return message_response(exc.reason, lang)
        shown, header = "", None
        try:
            with new_session(self.engine) as session:
                campaign = get_campaign(session=session, campaign_id=claims.campaign_id)
                if campaign is not None:
                    header = self._form_of(session, campaign).header
                    if is_receipt(receipt) and campaign_has_receipt(
                        session=session, campaign_id=campaign.id, receipt=receipt
                    ):
                        shown = receipt
        except OperationalError:  # the database is away: the code shown unchecked (a forged
            # one reveals nothing), so a citizen sees the receipt just handed over
            remembered = self._remembered_form(claims.campaign_id)
            header = remembered.header if remembered else None
            shown = receipt if is_receipt(receipt) else ""
        return html_page(render_thanks(receipt=shown, lang=lang, header=header))

    # -- the endpoints --

    async def form(self, request: Request) -> Response:
        """GET /s/<token>: the form; POST there is accepted too."""
        token = request.path_params["token"]
        place = Place.of(token, on_submit_path=False)
        if request.method == "POST":
            return await self._submitted(request, place)
        lang = normal_lang(request.query_params.get("lang"))
        try:
            claims = read_token(token, secret=self.secret)
            form = await self._current_form(claims)
            if claims.link_id is not None:
                used = await run_in_threadpool(self._link_used, claims)
                if used is None:
                    return message_response("unknown", lang)
                if used:
                    return self._used_page(claims, dict(request.cookies), lang)
            return self._form_page(form, lang, place, request, claims.key_scope)
        except LinkError as exc:
            return message_response(exc.reason, lang)
        except OperationalError:
            _LOG.warning("form: database unavailable", exc_info=True)
            return message_response("unavailable", lang, place)
        except Exception:
            _LOG.exception("form: unexpected error")
            return message_response("error", lang, place)

    async def submit(self, request: Request) -> Response:
        """POST /s/<token>/gui: a submission; a GET there goes back to the form."""
        token = request.path_params["token"]
        if request.method != "POST":
            query = "?lang=en" if request.query_params.get("lang") == "en" else ""
            return RedirectResponse(f"../{token}{query}", status_code=303)
        return await self._submitted(request, Place.of(token, on_submit_path=True))

    async def _submitted(self, request: Request, place: Place) -> Response:
        lang = normal_lang(request.query_params.get("lang"))
        token = request.path_params["token"]
        try:
            try:
                body = await read_body(request, self.max_body_bytes)
            except BodyTooLarge:
                return message_response("too_large", lang)
            address = request_address(request.scope, trusted_proxy=self.guard.limits.trust_proxy)
            if self.guard.note_submission(address):
                return message_response("flood", lang)
            content_type = request.headers.get("content-type", "")
            return await self._accept(token, body, content_type, address, lang, place,
                                      request.url.scheme, dict(request.cookies))
        except ClientDisconnect:
            return Response(status_code=400)
        except Exception:
            _LOG.exception("form: unexpected error")
            return message_response("error", lang)

    def _link_used(self, claims: LinkClaims) -> bool | None:
        with new_session(self.engine) as session:
            return link_is_used(
                session=session, link_id=claims.link_id, campaign_id=claims.campaign_id
            )

    async def not_found(self, request: Request) -> Response:
        """Any other address under /s/: a plain page, not the staff app."""
        return message_response("not_found", normal_lang(request.query_params.get("lang")))

    async def thanks(self, request: Request) -> Response:
        lang = normal_lang(request.query_params.get("lang"))
        try:
            return await run_in_threadpool(
                self._thanks, request.path_params["token"],
                request.cookies.get(THANKS_COOKIE, ""), lang,
            )
        except Exception:
            _LOG.exception("form: unexpected error on the thank-you page")
            return message_response("error", lang)


def _receipt_cookie(claims: LinkClaims) -> str:
    return f"bn{claims.link_id}"


def _keep_receipt(response: Response, claims: LinkClaims, receipt: str, *, secure: bool) -> None:
    """Let this browser show the receipt when the used link is opened again: kept until the
    link expires, and Lax (not Strict) so that opening the link from a message still shows it."""
    seconds = int((claims.expires_at - utcnow()).total_seconds())
    _set_receipt_cookie(response, _receipt_cookie(claims), receipt, max(seconds, 60),
                        samesite="lax", secure=secure)


def _set_receipt_cookie(
    response: Response, name: str, receipt: str, seconds: int, *, samesite: str, secure: bool
) -> None:
    """A receipt cookie: HttpOnly, with no Path attribute (so scoped by the browser to the
    directory of the address posted to, the link's own /s/<token>/)."""
    response.set_cookie(name, receipt, max_age=seconds, path=None, httponly=True,
                        samesite=samesite, secure=secure)


def form_routes(
    *,
    engine: Engine | None = None,
    secret: bytes | None = None,
    limits: AbuseLimits | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    link_state_seconds: float = LINK_STATE_SECONDS,
) -> list[Route]:
    """The form's routes; by default on the app's database and server secret."""
    service = FormService(
        engine=engine,
        secret=secret,
        limits=limits,
        max_body_bytes=max_body_bytes,
        link_state_seconds=link_state_seconds,
    )
    return [
        Route("/s/{token}", service.form, methods=["GET", "POST"], name="survey_form"),
        Route(
            f"/s/{{token}}/{SUBMIT_PATH}",
            service.submit,
            methods=["GET", "POST"],
            name="survey_submit",
        ),
        Route("/s/{token}/cam-on", service.thanks, methods=["GET"], name="survey_thanks"),
        Route("/s/{rest:path}", service.not_found, name="survey_not_found"),
    ]


