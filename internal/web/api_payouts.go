package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/payout"
	"github.com/partli/partli/internal/store"
)

// The payouts API: creating a program's payouts, listing them, sending a
// Stripe one, marking one paid outside Partli, canceling, and the batch
// files of PayPal and Wise.

// maxPartnerIDs bounds partnerIds of POST /api/payouts.
const maxPartnerIDs = 1000

// CreatePayouts handles POST /api/payouts {programId, partnerIds?}: one
// pending payout per partner and currency whose balance reaches the
// program's minimum.
func (s *Server) CreatePayouts(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	programID, _ := b.text("programId", true, 100)
	var partnerIDs []string
	if b.has("partnerIds") {
		if err := json.Unmarshal(b.raw["partnerIds"], &partnerIDs); err != nil {
			b.errs.Add("partnerIds", "must be an array of partner ids")
		} else if len(partnerIDs) > maxPartnerIDs {
			b.errs.Add("partnerIds", "must name at most 1000 partners")
		}
	}
	if err := b.err(); err != nil {
		return err
	}
	ctx, ws := c.Request().Context(), workspaceOf(c)
	if _, err := s.store.Program(ctx, ws, programID); errors.Is(err, store.ErrNotFound) {
		return notFoundField("programId", "No such program in this workspace.")
	} else if err != nil {
		return err
	}
	partnerIDs = dedupe(partnerIDs)
	for _, id := range partnerIDs {
		p, err := s.store.Partner(ctx, ws, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && p.ProgramID != programID) {
			return invalidField("partnerIds", "has "+id+", which is not a partner of this program")
		}
		if err != nil {
			return err
		}
	}
	if partnerIDs == nil {
		partnerIDs = []string{}
	}
	out, err := s.payouts.CreateForProgram(ctx, ws, programID, partnerIDs, false, "api key "+c.Get(apiKeyIDKey).(string))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, newList(out.Payouts, nil))
}

// ListPayouts handles GET /api/payouts?status&partnerId&programId&limit&cursor.
func (s *Server) ListPayouts(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	f := store.PayoutFilter{Status: c.QueryParam("status"), PartnerID: c.QueryParam("partnerId"), ProgramID: c.QueryParam("programId")}
	if f.Status != "" && !commission.ValidPayoutStatus(f.Status) {
		return invalidField("status", "must be one of "+strings.Join(commission.PayoutStatuses, ", "))
	}
	rows, next, err := s.store.ListPayoutRows(c.Request().Context(), workspaceOf(c), f, page)
	if err != nil {
		return err
	}
	ps := make([]store.Payout, len(rows))
	for i, r := range rows {
		ps[i] = r.Payout
	}
	return c.JSON(http.StatusOK, newList(ps, next))
}

// GetPayout handles GET /api/payouts/{id}.
func (s *Server) GetPayout(c echo.Context) error {
	p, err := s.store.Payout(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("payout")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// SendPayout handles POST /api/payouts/{id}/send: a Stripe payout is one
// transfer; 200 with the payout paid or failed (Stripe's message in
// failureReason), 202 with it still processing when Stripe's answer did not
// come (it is asked again, with the same idempotency key). Payouts paid by
// file or by hand, paid and canceled ones, and partners whose method is
// not ready are 409.
func (s *Server) SendPayout(c echo.Context) error {
	p, err := s.payouts.Send(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("payout")
	}
	if err != nil {
		return err
	}
	if p.Status == commission.PayoutProcessing {
		return c.JSON(http.StatusAccepted, p)
	}
	return c.JSON(http.StatusOK, p)
}

// MarkPayoutPaidAPI handles POST /api/payouts/{id}/mark-paid {reference}.
func (s *Server) MarkPayoutPaidAPI(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	reference, _ := b.text("reference", true, maxReferenceLen)
	if err := b.err(); err != nil {
		return err
	}
	p, err := s.commissions.MarkPayoutPaid(c.Request().Context(), workspaceOf(c), c.Param("id"), reference,
		"api key "+c.Get(apiKeyIDKey).(string))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("payout")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// CancelPayoutAPI handles POST /api/payouts/{id}/cancel.
func (s *Server) CancelPayoutAPI(c echo.Context) error {
	p, err := s.commissions.CancelPayout(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("payout")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// exportFormats are the files of GET /api/payouts/export?format=.
var exportFormats = []string{payout.PayPal, payout.Wise, "csv"}

// ExportPayoutsAPI handles GET /api/payouts/export?format=paypal|wise|csv
// &status&currency&programId: the payouts (of that method, for PayPal and
// Wise; pending ones unless status says otherwise) as the provider's batch
// file, or as Partli's own CSV.
func (s *Server) ExportPayoutsAPI(c echo.Context) error {
	format := c.QueryParam("format")
	if format == "" {
		format = "csv"
	}
	if !oneOf(format, exportFormats) {
		return invalidField("format", "must be one of "+strings.Join(exportFormats, ", "))
	}
	f, err := exportFilter(c, format)
	if err != nil {
		return err
	}
	return s.exportPayouts(c, format, f)
}

// exportFilter reads an export's filter from the query: a provider's file
// is of pending payouts of its method unless status says otherwise, in one
// currency when the provider takes one per file.
func exportFilter(c echo.Context, format string) (store.PayoutFilter, error) {
	f := store.PayoutFilter{Status: c.QueryParam("status"), ProgramID: c.QueryParam("programId")}
	if f.Status != "" && !commission.ValidPayoutStatus(f.Status) {
		return f, invalidField("status", "must be one of "+strings.Join(commission.PayoutStatuses, ", "))
	}
	if cur := c.QueryParam("currency"); cur != "" {
		var ok bool
		if f.Currency, ok = money.NormalizeCurrency(cur); !ok {
			return f, invalidField("currency", "must be an ISO 4217 currency code such as USD")
		}
	}
	if format != "csv" {
		f.Method = format
		if f.Status == "" {
			f.Status = commission.PayoutPending
		}
	}
	return f, nil
}

// exportPayouts streams the payouts f matches in format.
func (s *Server) exportPayouts(c echo.Context, format string, f store.PayoutFilter) error {
	ctx, ws := c.Request().Context(), workspaceOf(c)
	header, record := payoutCSVHeader, payoutCSVRecord
	if m := payout.Methods[format]; m != nil && m.File() != nil {
		file := m.File()
		header, record = file.Header, file.Record
		if file.OneCurrency && f.Currency == "" {
			cs, err := s.store.PayoutCurrencies(ctx, ws, f)
			if err != nil {
				return err
			}
			if len(cs) > 1 {
				return invalidField("currency", "is required: "+format+" takes one currency per file, and these payouts are in "+
					strings.Join(cs, ", ")+"; export each currency on its own")
			}
		}
	}
	name := "payouts-" + format
	if f.Status != "" {
		name += "-" + f.Status
	}
	if f.Currency != "" {
		name += "-" + strings.ToLower(f.Currency)
	}
	return streamCSV(s, c, exportName(name), header,
		keysetFetch(func(p store.Page) ([]store.PayoutRow, *string, error) { return s.store.ListPayoutRows(ctx, ws, f, p) }),
		record)
}

// withPayoutMethods sets each partner's payoutMethod for the reply.
func (s *Server) withPayoutMethods(c echo.Context, ps ...*store.Partner) error {
	if len(ps) == 0 {
		return nil
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	ms, err := s.store.PayoutMethods(c.Request().Context(), workspaceOf(c), ids)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if m, ok := ms[p.ID]; ok {
			p.PayoutMethod = payout.Describe(&m)
		}
	}
	return nil
}

// PutPayoutMethod handles PUT /api/partners/{id}/payout-method
// {type: "paypal"|"wise", email} or {type: "manual"}; Stripe is set up by
// POST /api/partners/{id}/stripe-onboarding.
func (s *Server) PutPayoutMethod(c echo.Context) error {
	p, err := s.partner(c)
	if err != nil {
		return err
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	typ, email, ok := readPayoutMethod(b)
	if !ok {
		return b.err()
	}
	if _, err := s.store.SetPayoutMethod(c.Request().Context(), p.WorkspaceID, p.ID, typ, email); err != nil {
		return err
	}
	if err := s.withPayoutMethods(c, p); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.withLink(p))
}

// readPayoutMethod reads and checks {type, email} of a payout method body.
func readPayoutMethod(b *body) (typ, email string, ok bool) {
	typ, _ = b.text("type", true, 20)
	switch typ {
	case payout.PayPal, payout.Wise:
		if v, ok := b.text("email", true, 254); ok {
			if !validEmail(v) {
				b.errs.Add("email", "must be the "+typ+" account's email address, such as jane@example.com")
			}
			email = v
		}
	case payout.Manual:
		if b.has("email") {
			b.errs.Add("email", "must be absent for a manual payout method")
		}
	case payout.Stripe:
		b.errs.Add("type", "Stripe is set up with POST /api/partners/{id}/stripe-onboarding (the partner onboards with Stripe)")
	case "":
	default:
		b.errs.Add("type", "must be paypal, wise or manual")
	}
	return typ, email, len(b.errs) == 0
}

// StripeOnboarding handles POST /api/partners/{id}/stripe-onboarding → {url}:
// a Stripe Account Link for the partner (their Express account is created
// on first use); the link brings them back to the partner portal.
func (s *Server) StripeOnboarding(c echo.Context) error {
	p, err := s.partner(c)
	if err != nil {
		return err
	}
	url, err := s.payouts.Onboarding(c.Request().Context(), p.WorkspaceID, p.ID,
		s.cfg.BaseURL+portalStripePath(p.ID, "refresh"), s.cfg.BaseURL+portalStripePath(p.ID, "return"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"url": url})
}
