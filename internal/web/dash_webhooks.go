package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/outbox"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/webhook"
	"github.com/partli/partli/views/pages/dashboard"
)

// Page sizes of the webhook pages.
const (
	whEndpointsPage  = 20
	whDeliveriesPage = 25
	whAttemptsPage   = 50
)

// whNotFound maps a missing endpoint or delivery to the 404 page.
func whNotFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(what)
	}
	return err
}

// whNewForm is the create form as first shown: every event type chosen.
func whNewForm() dashboard.WebhookForm {
	f := dashboard.WebhookForm{Types: outbox.Types, Events: map[string]bool{}, Errors: map[string]string{}}
	for _, t := range outbox.Types {
		f.Events[t] = true
	}
	return f
}

// whEditForm is the edit form of an endpoint.
func whEditForm(e *store.WebhookEndpoint) dashboard.WebhookForm {
	f := dashboard.WebhookForm{URL: e.URL, Types: outbox.Types, Events: map[string]bool{}, Errors: map[string]string{}}
	for _, t := range e.Events {
		f.Events[t] = true
	}
	return f
}

// whReadForm reads the URL and event checkboxes of a form. The events are
// never nil, so that none checked is "no events", not "unchanged".
func whReadForm(c echo.Context) (dashboard.WebhookForm, []string, error) {
	form, err := c.FormParams()
	if err != nil {
		return dashboard.WebhookForm{}, nil, echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	f := dashboard.WebhookForm{URL: strings.TrimSpace(form.Get("url")), Types: outbox.Types,
		Events: map[string]bool{}, Errors: map[string]string{}}
	evs := []string{}
	for _, ev := range form["events"] {
		f.Events[ev] = true
		evs = append(evs, ev)
	}
	return f, evs, nil
}

// whFieldErrors turns the service's field errors into the form's sentences.
func whFieldErrors(err error, f *dashboard.WebhookForm) bool {
	var fe webhook.FieldErrors
	if !errors.As(err, &fe) {
		return false
	}
	for k, v := range fe {
		switch {
		case k == "url" && v == webhook.MsgURLRequired:
			f.Errors[k] = "Enter the URL that should receive the events."
		case k == "events" && v == webhook.MsgNoEvents:
			f.Errors[k] = "Choose at least one event type."
		default:
			f.Errors[k] = capitalize(v) + "."
		}
	}
	return true
}

// whListView loads the endpoints page.
func (s *Server) whListView(c echo.Context) (dashboard.WebhooksView, error) {
	page, err := queryPage(c, "cursor", whEndpointsPage)
	if err != nil {
		return dashboard.WebhooksView{}, err
	}
	rows, next, err := s.webhooks().List(c.Request().Context(), workspaceOf(c), page)
	if err != nil {
		return dashboard.WebhooksView{}, err
	}
	v := dashboard.WebhooksView{CSRF: csrfToken(c), CanEdit: currentUser(c).Role == "owner", Endpoints: rows, Form: whNewForm()}
	if next != nil {
		v.NextHref = "/webhooks?" + url.Values{"cursor": {*next}}.Encode()
	}
	return v, nil
}

func (s *Server) whListPage(c echo.Context, status int, v dashboard.WebhooksView) error {
	return s.page(c, status, s.meta(c, "Webhooks", "webhooks"), dashboard.Webhooks(v))
}

// DashWebhooks handles GET /webhooks.
func (s *Server) DashWebhooks(c echo.Context) error {
	v, err := s.whListView(c)
	if err != nil {
		return err
	}
	v.Flash = doneText(c, doneWebhooks)
	if v.NewSecret, err = s.whNewSecret(c); err != nil {
		return err
	}
	if v.NewSecret == nil && (c.QueryParam("done") == "added" || c.QueryParam("done") == "rotated") {
		v.Flash += " Its signing secret was shown once, right after it was made; rotate it for a new one."
	}
	return s.whListPage(c, http.StatusOK, v)
}

// DashCreateWebhook handles POST /webhooks. The new endpoint's secret is
// carried in the session to the webhooks page the browser is sent to,
// which shows it this once (a refresh shows it no more and adds no other
// endpoint); it is never put in a URL or a cookie.
func (s *Server) DashCreateWebhook(c echo.Context) error {
	f, evs, err := whReadForm(c)
	if err != nil {
		return err
	}
	e, err := s.webhooks().Create(c.Request().Context(), workspaceOf(c), f.URL, evs)
	if whFieldErrors(err, &f) {
		v, err := s.whListView(c)
		if err != nil {
			return err
		}
		v.Form = f
		return s.whListPage(c, http.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return err
	}
	if err := s.setFlash(c, flashWebhookSecret, dashboard.WebhookNewSecret{EndpointID: e.ID, URL: e.URL, Secret: e.Secret}); err != nil {
		return err
	}
	return redirect(c, "/webhooks?done=added")
}

// whNewSecret takes the signing secret a POST carried to this page, if any.
func (s *Server) whNewSecret(c echo.Context) (*dashboard.WebhookNewSecret, error) {
	var sec dashboard.WebhookNewSecret
	ok, err := s.takeFlash(c, flashWebhookSecret, &sec)
	if err != nil || !ok {
		return nil, err
	}
	return &sec, nil
}

// whDetailView loads an endpoint's page with its delivery log.
func (s *Server) whDetailView(c echo.Context) (dashboard.WebhookDetailView, error) {
	ctx := c.Request().Context()
	ws, id := workspaceOf(c), c.Param("id")
	svc := s.webhooks()
	e, err := svc.Get(ctx, ws, id)
	if err != nil {
		return dashboard.WebhookDetailView{}, whNotFound(err, "webhook endpoint")
	}
	v := dashboard.WebhookDetailView{CSRF: csrfToken(c), CanEdit: currentUser(c).Role == "owner", Endpoint: *e,
		Form: whEditForm(e), Now: time.Now()}
	switch st := c.QueryParam("status"); st {
	case store.DeliveryPending, store.DeliverySucceeded, store.DeliveryFailed:
		v.Status = st
	}
	dpage, err := queryPage(c, "dcursor", whDeliveriesPage)
	if err != nil {
		return v, err
	}
	apage, err := queryPage(c, "acursor", whAttemptsPage)
	if err != nil {
		return v, err
	}
	var dnext, anext *string
	if v.Deliveries, dnext, err = svc.Deliveries(ctx, ws, e.ID, v.Status, dpage); err != nil {
		return v, err
	}
	if v.Attempts, anext, err = svc.Attempts(ctx, ws, e.ID, "", apage); err != nil {
		return v, err
	}
	// The links keep the other list's position and the filter.
	q := url.Values{}
	for _, k := range []string{"status", "dcursor", "acursor"} {
		if x := c.QueryParam(k); x != "" {
			q.Set(k, x)
		}
	}
	with := func(k, val, anchor string) string {
		q2 := url.Values{}
		for key, vals := range q {
			q2[key] = vals
		}
		q2.Set(k, val)
		return "/webhooks/" + e.ID + "?" + q2.Encode() + anchor
	}
	if dnext != nil {
		v.DeliveriesNext = with("dcursor", *dnext, "#deliveries")
	}
	if anext != nil {
		v.AttemptsNext = with("acursor", *anext, "#attempts")
	}
	if e.Enabled {
		for _, d := range v.Deliveries {
			if d.Status == store.DeliveryPending {
				v.RefreshHref = "/webhooks/" + e.ID
				if len(q) > 0 {
					v.RefreshHref += "?" + q.Encode()
				}
				break
			}
		}
	}
	return v, nil
}

func (s *Server) whDetailPage(c echo.Context, status int, v dashboard.WebhookDetailView) error {
	return s.page(c, status, s.meta(c, "Webhook endpoint", "webhooks"), dashboard.WebhookDetail(v))
}

// DashWebhook handles GET /webhooks/:id: the endpoint and its delivery log.
func (s *Server) DashWebhook(c echo.Context) error {
	v, err := s.whDetailView(c)
	if err != nil {
		return err
	}
	v.Flash = doneText(c, doneWebhooks)
	// The secret of a rotation is the endpoint's own only.
	if sec, err := s.whNewSecret(c); err != nil {
		return err
	} else if sec != nil && sec.EndpointID == v.Endpoint.ID {
		v.NewSecret = sec
	}
	if v.NewSecret == nil && c.QueryParam("done") == "rotated" {
		v.Flash += " The new signing secret was shown once, right after it was made; rotate it again for a new one."
	}
	return s.whDetailPage(c, http.StatusOK, v)
}

// DashUpdateWebhook handles POST /webhooks/:id: its URL and event types.
func (s *Server) DashUpdateWebhook(c echo.Context) error {
	f, evs, err := whReadForm(c)
	if err != nil {
		return err
	}
	id := c.Param("id")
	_, err = s.webhooks().Update(c.Request().Context(), workspaceOf(c), id, webhook.Changes{URL: &f.URL, Events: evs})
	if whFieldErrors(err, &f) {
		v, err := s.whDetailView(c)
		if err != nil {
			return err
		}
		v.Form, v.EditOpen = f, true
		return s.whDetailPage(c, http.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return whNotFound(err, "webhook endpoint")
	}
	return redirect(c, "/webhooks/"+id+"?done=saved")
}

// whBack is where an action returns to: the page its form was on.
func whBack(c echo.Context, done string) string {
	id := c.Param("id")
	switch c.FormValue("back") {
	case "detail":
		return "/webhooks/" + id + "?done=" + done
	}
	return "/webhooks?done=" + done
}

func (s *Server) whSetEnabled(c echo.Context, enabled bool, done string) error {
	_, err := s.webhooks().Update(c.Request().Context(), workspaceOf(c), c.Param("id"), webhook.Changes{Enabled: &enabled})
	if err != nil {
		return whNotFound(err, "webhook endpoint")
	}
	return redirect(c, whBack(c, done))
}

// DashEnableWebhook handles POST /webhooks/:id/enable: it also clears the
// failure count and the disabled reason.
func (s *Server) DashEnableWebhook(c echo.Context) error { return s.whSetEnabled(c, true, "enabled") }

// DashDisableWebhook handles POST /webhooks/:id/disable; pending deliveries
// are cancelled.
func (s *Server) DashDisableWebhook(c echo.Context) error {
	return s.whSetEnabled(c, false, "disabled")
}

// DashRotateWebhook handles POST /webhooks/:id/rotate-secret. Like
// creation, the new secret is carried in the session to the page the form
// was on (the list, or the endpoint's page with back=detail), which shows
// it once.
func (s *Server) DashRotateWebhook(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	secret, err := s.webhooks().RotateSecret(ctx, workspaceOf(c), id)
	if err != nil {
		return whNotFound(err, "webhook endpoint")
	}
	e, err := s.webhooks().Get(ctx, workspaceOf(c), id)
	if err != nil {
		return whNotFound(err, "webhook endpoint")
	}
	if err := s.setFlash(c, flashWebhookSecret, dashboard.WebhookNewSecret{EndpointID: id, URL: e.URL, Secret: secret, Rotated: true}); err != nil {
		return err
	}
	if c.FormValue("back") == "detail" {
		return redirect(c, "/webhooks/"+id+"?done=rotated")
	}
	return redirect(c, "/webhooks?done=rotated")
}

// DashDeleteWebhook handles POST /webhooks/:id/delete (the form asks for
// confirmation first).
func (s *Server) DashDeleteWebhook(c echo.Context) error {
	if err := s.webhooks().Delete(c.Request().Context(), workspaceOf(c), c.Param("id")); err != nil {
		return whNotFound(err, "webhook endpoint")
	}
	return redirect(c, "/webhooks?done=deleted")
}

// whRefused shows the page an action came from with a 409 message: the
// endpoint is disabled, or the delivery is being sent right now.
func (s *Server) whRefused(c echo.Context, msg string) error {
	if c.FormValue("back") == "delivery" && c.Param("deliveryId") != "" {
		v, err := s.whDeliveryView(c)
		if err != nil {
			return err
		}
		v.FlashError = msg
		return s.whDeliveryPage(c, http.StatusConflict, v)
	}
	v, err := s.whDetailView(c)
	if err != nil {
		return err
	}
	v.FlashError = msg
	return s.whDetailPage(c, http.StatusConflict, v)
}

const whDisabledMsg = "This endpoint is disabled. Enable it first: a disabled endpoint receives nothing, not even test events or resent deliveries."

// DashTestWebhook handles POST /webhooks/:id/test: a webhook.test event for
// this endpoint only, delivered like any other.
func (s *Server) DashTestWebhook(c echo.Context) error {
	id := c.Param("id")
	_, err := s.webhooks().SendTestEvent(c.Request().Context(), workspaceOf(c), id)
	switch {
	case errors.Is(err, webhook.ErrEndpointDisabled):
		return s.whRefused(c, whDisabledMsg)
	case err != nil:
		return whNotFound(err, "webhook endpoint")
	}
	return redirect(c, "/webhooks/"+id+"?done=test-sent")
}

// DashResendWebhookDelivery handles POST /webhooks/:id/deliveries/:deliveryId/resend.
func (s *Server) DashResendWebhookDelivery(c echo.Context) error {
	ctx := c.Request().Context()
	ws, id, did := workspaceOf(c), c.Param("id"), c.Param("deliveryId")
	svc := s.webhooks()
	d, err := svc.Delivery(ctx, ws, did)
	if err != nil {
		return whNotFound(err, "delivery")
	}
	if d.EndpointID != id {
		return notFound("delivery")
	}
	err = svc.Resend(ctx, ws, did)
	switch {
	case errors.Is(err, webhook.ErrEndpointDisabled):
		return s.whRefused(c, whDisabledMsg)
	case errors.Is(err, webhook.ErrInFlight):
		return s.whRefused(c, "This delivery is being sent right now. Wait for the attempt to finish, then resend it if you still need to.")
	case err != nil:
		return whNotFound(err, "delivery")
	}
	if c.FormValue("back") == "delivery" {
		return redirect(c, "/webhooks/"+id+"/deliveries/"+did+"?done=resent")
	}
	return redirect(c, "/webhooks/"+id+"?done=resent#deliveries")
}

// whDeliveryView loads one delivery of an endpoint with its attempts.
func (s *Server) whDeliveryView(c echo.Context) (dashboard.WebhookDeliveryView, error) {
	ctx := c.Request().Context()
	ws, id, did := workspaceOf(c), c.Param("id"), c.Param("deliveryId")
	svc := s.webhooks()
	e, err := svc.Get(ctx, ws, id)
	if err != nil {
		return dashboard.WebhookDeliveryView{}, whNotFound(err, "webhook endpoint")
	}
	d, err := svc.Delivery(ctx, ws, did)
	if err != nil {
		return dashboard.WebhookDeliveryView{}, whNotFound(err, "delivery")
	}
	if d.EndpointID != e.ID {
		return dashboard.WebhookDeliveryView{}, notFound("delivery")
	}
	page, err := queryPage(c, "cursor", whAttemptsPage)
	if err != nil {
		return dashboard.WebhookDeliveryView{}, err
	}
	v := dashboard.WebhookDeliveryView{CSRF: csrfToken(c), CanEdit: currentUser(c).Role == "owner",
		Endpoint: *e, Delivery: *d, Now: time.Now()}
	var next *string
	if v.Attempts, next, err = svc.Attempts(ctx, ws, e.ID, d.ID, page); err != nil {
		return v, err
	}
	if next != nil {
		v.AttemptsNext = "/webhooks/" + e.ID + "/deliveries/" + d.ID + "?" + url.Values{"cursor": {*next}}.Encode()
	}
	v.Payload = compactJSON(d.Payload)
	return v, nil
}

func (s *Server) whDeliveryPage(c echo.Context, status int, v dashboard.WebhookDeliveryView) error {
	return s.page(c, status, s.meta(c, "Delivery of "+v.Delivery.EventType, "webhooks"), dashboard.WebhookDelivery(v))
}

// DashWebhookDelivery handles GET /webhooks/:id/deliveries/:deliveryId.
func (s *Server) DashWebhookDelivery(c echo.Context) error {
	v, err := s.whDeliveryView(c)
	if err != nil {
		return err
	}
	v.Flash = doneText(c, doneWebhooks)
	return s.whDeliveryPage(c, http.StatusOK, v)
}
