package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/store"
)

// ListSales handles GET /api/sales.
func (s *Server) ListSales(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	f := store.SaleFilter{ProgramID: c.QueryParam("programId"), PartnerID: c.QueryParam("partnerId"),
		CustomerExternalID: c.QueryParam("customerExternalId")}
	rows, next, err := s.store.ListSales(c.Request().Context(), workspaceOf(c), f, page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(rows, next))
}

// ListCommissions handles GET /api/commissions.
func (s *Server) ListCommissions(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	f := store.CommissionFilter{ProgramID: c.QueryParam("programId"), PartnerID: c.QueryParam("partnerId"),
		Status: c.QueryParam("status"), CustomerExternalID: c.QueryParam("customerExternalId")}
	if f.Status != "" && !commission.ValidStatus(f.Status) {
		return invalidField("status", "must be one of "+strings.Join(commission.Statuses, ", "))
	}
	rows, next, err := s.store.ListCommissions(c.Request().Context(), workspaceOf(c), f, page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(rows, next))
}

// commissionWithHistory is the single-commission reply.
type commissionWithHistory struct {
	*store.Commission
	History []store.HistoryEntry `json:"history"`
}

// GetCommission handles GET /api/commissions/{id}.
func (s *Server) GetCommission(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceOf(c)
	cm, err := s.store.Commission(ctx, ws, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("commission")
	}
	if err != nil {
		return err
	}
	h, err := s.store.History(ctx, ws, cm.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, commissionWithHistory{cm, h})
}

// UpdateCommission handles PATCH /api/commissions/{id} {status, reason?}.
func (s *Server) UpdateCommission(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	to, ok := b.str("status")
	if !ok && !b.has("status") {
		b.errs.Add("status", "is required")
	} else if ok && !commission.ValidStatus(to) {
		b.errs.Add("status", "must be one of "+strings.Join(commission.Statuses, ", "))
	}
	reason, _ := b.text("reason", false, 1000)
	if err := b.err(); err != nil {
		return err
	}
	cm, h, err := s.commissions.SetStatus(c.Request().Context(), workspaceOf(c), c.Param("id"), to, reason,
		"api key "+c.Get(apiKeyIDKey).(string))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("commission")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, commissionWithHistory{cm, h})
}
