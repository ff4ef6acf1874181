package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// notFoundPage is the dashboard's 404 for a record the URL names that the
// signed-in workspace does not have ("There is no such payout in this
// workspace."): the error page, inside the dashboard's navigation.
func notFoundPage(what string) error {
	return echo.NewHTTPError(http.StatusNotFound, "There is no such "+what+" in this workspace.")
}
