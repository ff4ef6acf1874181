package web

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/tracking"
	"github.com/partli/partli/views/pages"
)

// MaxMetadataBytes bounds the metadata object of a sale or lead.
const MaxMetadataBytes = 16 << 10

// maxFuture is how far ahead of now an occurredAt may be (clock skew).
const maxFuture = 5 * time.Minute

// readSale validates a POST /api/track/sale body.
func readSale(b *body, now time.Time) (tracking.SaleInput, error) {
	in := tracking.SaleInput{Currency: "USD", EventName: "sale", OccurredAt: now}
	in.ExternalID, _ = b.text("externalId", true, 255)
	in.CustomerExternalID, _ = b.text("customerExternalId", true, 255)
	if v, ok := b.int("amountCents", 1, money.MaxSaleCents); ok {
		in.AmountCents = v
	} else if !b.has("amountCents") {
		b.errs.Add("amountCents", "is required")
	}
	if v, ok := b.str("currency"); ok {
		cur, valid := money.NormalizeCurrency(v)
		if !valid {
			b.errs.Add("currency", "must be an ISO 4217 currency code such as USD")
		}
		in.Currency = cur
	}
	in.ClickID, _ = b.text("clickId", false, 255)
	in.CouponCode, _ = b.text("couponCode", false, 255)
	if v, ok := b.text("eventName", false, 255); ok && v != "" {
		in.EventName = v
	}
	in.Metadata, _ = b.object("metadata", MaxMetadataBytes)
	readOccurredAt(b, &in.OccurredAt, now)
	return in, b.err()
}

func readOccurredAt(b *body, dst *time.Time, now time.Time) {
	if t, ok := b.timestamp("occurredAt"); ok {
		if t.After(now.Add(maxFuture)) {
			b.errs.Add("occurredAt", "must not be more than 5 minutes in the future")
		}
		*dst = t
	}
}

// TrackSale handles POST /api/track/sale.
func (s *Server) TrackSale(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	in, err := readSale(b, time.Now().UTC())
	if err != nil {
		return err
	}
	res, err := s.tracking.TrackSale(c.Request().Context(), workspaceOf(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// TrackLead handles POST /api/track/lead.
func (s *Server) TrackLead(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	in := tracking.LeadInput{EventName: "lead", OccurredAt: now}
	in.ExternalID, _ = b.text("externalId", true, 255)
	in.CustomerExternalID, _ = b.text("customerExternalId", false, 255)
	if v, ok := b.text("customerEmail", false, 254); ok && v != "" {
		if !validEmail(v) {
			b.errs.Add("customerEmail", "must be an email address")
		}
		in.CustomerEmail = v
	}
	in.CustomerName, _ = b.text("customerName", false, 200)
	in.ClickID, _ = b.text("clickId", false, 255)
	in.CouponCode, _ = b.text("couponCode", false, 255)
	if v, ok := b.text("eventName", false, 255); ok && v != "" {
		in.EventName = v
	}
	in.Metadata, _ = b.object("metadata", MaxMetadataBytes)
	readOccurredAt(b, &in.OccurredAt, now)
	if err := b.err(); err != nil {
		return err
	}
	res, err := s.tracking.TrackLead(c.Request().Context(), workspaceOf(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// Click-fraud heuristics. A flagged click still redirects and attributes;
// the flags are for the people reviewing a partner's traffic.
// botMarkers are the lower-case fragments that give away a script, crawler
// or link previewer in a User-Agent.
var botMarkers = []string{"bot", "crawl", "spider", "slurp", "curl", "wget", "python", "httpclient", "http-client",
	"okhttp", "java/", "libwww", "headless", "phantom", "scrapy", "preview", "facebookexternalhit", "monitor"}

// isBot reports whether a User-Agent looks automated: empty, or holding
// one of botMarkers in any case. (A substring scan: a case-insensitive
// regexp of these alternatives cost a sixth of a redirect's CPU.)
func isBot(ua string) bool {
	if ua == "" {
		return true
	}
	lower := strings.ToLower(ua)
	for _, m := range botMarkers {
		if strings.Contains(lower, m) {
			return true
		}
	}
	return false
}

const (
	velocityWindow    = 10 * time.Minute
	velocityThreshold = 10 // earlier clicks from one IP hash on one partner within the window
)

// recordClick records a click from this request on the referral link slug
// and returns the link; store.ErrNotFound when no approved partner has it.
func (s *Server) recordClick(c echo.Context, slug, pageURL, referrer string) (*store.Link, *store.Click, error) {
	r := c.Request()
	ua := truncate(r.UserAgent(), 512)
	ipHash := sha256.Sum256(append(append([]byte{}, s.ipSalt...), c.RealIP()...))
	click := &store.Click{
		ID: ids.New(ids.Click), IPHash: ipHash[:], UserAgent: ua, Referer: truncate(referrer, 1024), URL: truncate(pageURL, 2048),
		Country: truncate(firstHeader(r, "CF-IPCountry", "X-Vercel-IP-Country", "X-Country-Code", "CloudFront-Viewer-Country"), 2),
		City:    truncate(firstHeader(r, "X-Vercel-IP-City", "CF-IPCity", "X-City", "CloudFront-Viewer-City"), 100),
		Flags:   []string{},
	}
	if isBot(ua) {
		click.Flags = append(click.Flags, store.ClickFlagBot)
	}
	// One statement resolves the slug and records the click.
	link, err := s.tracking.RecordClick(r.Context(), slug, click, velocityWindow, velocityThreshold)
	if err != nil {
		return link, nil, err
	}
	return link, click, nil
}

func firstHeader(r *http.Request, names ...string) string {
	for _, n := range names {
		if v := r.Header.Get(n); v != "" {
			if u, err := url.QueryUnescape(v); err == nil {
				return u
			}
			return v
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Redirect handles GET /r/{slug}: records the click and sends the visitor on
// to the program's destination with pref_cid and via in the query, and
// pref_code when the partner has a code.
func (s *Server) Redirect(c echo.Context) error {
	slug := c.Param("slug")
	link, click, err := s.recordClick(c, slug, c.Request().URL.String(), c.Request().Referer())
	switch {
	case errors.Is(err, store.ErrLinkInactive):
		// A partner who is not approved (suspended, rejected, pending):
		// the merchant's visitor still reaches the site, with no click id,
		// cookie or attribution.
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.Redirect(http.StatusFound, link.DestinationURL)
	case errors.Is(err, store.ErrNotFound):
		return s.render(c, http.StatusNotFound, pages.NotFound("This referral link does not exist. Check the address, or visit the site directly."))
	case err != nil:
		return err
	}
	dest, err := url.Parse(link.DestinationURL)
	if err != nil {
		return err
	}
	q := dest.Query()
	q.Set("pref_cid", click.ID)
	q.Set("via", slug)
	if link.Code != nil {
		// partli.js keeps it with the click id and puts it on Stripe
		// Payment Links (prefilled_promo_code).
		q.Set("pref_code", *link.Code)
	}
	dest.RawQuery = q.Encode()
	c.SetCookie(&http.Cookie{Name: "pref_cid", Value: click.ID, Path: "/", MaxAge: link.CookieDays * 86400,
		SameSite: http.SameSiteLaxMode, HttpOnly: false, Secure: s.cfg.SecureCookies()})
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer-when-downgrade")
	return c.Redirect(http.StatusFound, dest.String())
}

// TrackClick handles POST /api/track/click, used by partli.js for ?via= deep links.
func (s *Server) TrackClick(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	slug, _ := b.text("slug", true, 63)
	pageURL, _ := b.text("url", false, 2048)
	referrer, _ := b.text("referrer", false, 1024)
	if err := b.err(); err != nil {
		return err
	}
	link, click, err := s.recordClick(c, slug, pageURL, referrer)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrLinkInactive) {
		return notFoundField("slug", "No partner link has this slug.")
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	// code: the partner's code, for partli.js to put on Stripe Payment Links.
	return c.JSON(http.StatusOK, map[string]any{"clickId": click.ID, "code": link.Code})
}
