package web

import (
	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/web/htmx"
)

// hx is what htmx said about the request.
func hx(c echo.Context) htmx.Request { return htmx.Of(c.Request()) }

// wantsFragment reports whether the reply should be only the component that
// made the request: an HTMX request that is not a boosted navigation. A
// boosted link or form gets the whole page or a redirect, as without HTMX.
func wantsFragment(c echo.Context) bool { return hx(c).Fragment() }
