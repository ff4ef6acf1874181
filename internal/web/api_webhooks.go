package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/outbox"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/webhook"
)

// webhookWithSecret is an endpoint as created or rotated: the one reply
// that shows its secret.
type webhookWithSecret struct {
	*store.WebhookEndpoint
	Secret string `json:"secret"`
}

// webhooks is the webhook service; it holds no state of its own.
func (s *Server) webhooks() *webhook.Service { return webhook.NewService(s.store, s.cfg) }

// eventTypes reads the "events" field: an array of event type names.
func eventTypes(b *body, required bool) ([]string, bool) {
	if !b.has("events") {
		if required || b.present("events") {
			b.errs.Add("events", "is required: a list of event types such as [\"sale.created\"]")
		}
		return nil, false
	}
	var evs []string
	if err := json.Unmarshal(b.raw["events"], &evs); err != nil {
		b.errs.Add("events", "must be an array of event types: "+strings.Join(outbox.Types, ", "))
		return nil, false
	}
	if evs == nil {
		evs = []string{}
	}
	return evs, true
}

// webhookErr maps the service's validation errors onto b's fields.
func webhookErr(b *body, err error) error {
	var f webhook.FieldErrors
	if errors.As(err, &f) {
		for k, v := range f {
			b.errs.Add(k, v)
		}
		return b.err()
	}
	if errors.Is(err, store.ErrNotFound) {
		return notFound("webhook endpoint")
	}
	return err
}

// CreateWebhook handles POST /api/webhooks.
func (s *Server) CreateWebhook(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	url, _ := b.text("url", true, webhook.MaxURLLen)
	evs, _ := eventTypes(b, true)
	if err := b.err(); err != nil {
		return err
	}
	e, err := s.webhooks().Create(c.Request().Context(), workspaceOf(c), url, evs)
	if err != nil {
		return webhookErr(b, err)
	}
	return c.JSON(http.StatusCreated, webhookWithSecret{WebhookEndpoint: e, Secret: e.Secret})
}

// ListWebhooks handles GET /api/webhooks.
func (s *Server) ListWebhooks(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	rows, next, err := s.webhooks().List(c.Request().Context(), workspaceOf(c), page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(rows, next))
}

// UpdateWebhook handles PATCH /api/webhooks/{id}: url, events, enabled.
func (s *Server) UpdateWebhook(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var ch webhook.Changes
	if b.present("url") {
		if v, ok := b.text("url", true, webhook.MaxURLLen); ok {
			ch.URL = &v
		}
	}
	if b.present("events") {
		ch.Events, _ = eventTypes(b, true)
	}
	if v, ok := b.boolean("enabled"); ok {
		ch.Enabled = &v
	} else if b.present("enabled") {
		b.errs.Add("enabled", "must be true or false")
	}
	if err := b.err(); err != nil {
		return err
	}
	e, err := s.webhooks().Update(c.Request().Context(), workspaceOf(c), c.Param("id"), ch)
	if err != nil {
		return webhookErr(b, err)
	}
	return c.JSON(http.StatusOK, e)
}

// DeleteWebhook handles DELETE /api/webhooks/{id}.
func (s *Server) DeleteWebhook(c echo.Context) error {
	err := s.webhooks().Delete(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("webhook endpoint")
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// RotateWebhookSecret handles POST /api/webhooks/{id}/rotate-secret. It
// takes no body. The old secret keeps signing next to the new one for a day.
func (s *Server) RotateWebhookSecret(c echo.Context) error {
	id := c.Param("id")
	secret, err := s.webhooks().RotateSecret(c.Request().Context(), workspaceOf(c), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("webhook endpoint")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"id": id, "secret": secret})
}
