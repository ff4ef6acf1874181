package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/views/pages/dashboard"
)

// OverviewPage handles GET /.
func (s *Server) OverviewPage(c echo.Context) error {
	now := time.Now().UTC()
	o, err := s.store.Overview(c.Request().Context(), workspaceOf(c), now)
	if err != nil {
		return err
	}
	v := dashboard.OverviewView{Month: now.Format("January 2006"), Overview: o, Chart: dashboard.NewChart(o.ChartCurrency, o.Chart)}
	return s.page(c, http.StatusOK, s.meta(c, "Overview", "overview"), dashboard.Overview(v))
}
