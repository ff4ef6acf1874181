package web

import (
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/payout"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/pages/dashboard"
)

// Finance exports: every row a list page would show under its filters, as
// CSV, streamed a keyset page at a time so a million rows take no more
// memory than one page. Text that people typed (names, references) goes
// through csvText, so a spreadsheet never runs it as a formula; amounts come
// twice, in major units of their currency and in minor units.

// exportPage is how many rows an export reads per query.
const exportPage = 2000

// streamCSV writes a CSV download of every row fetch returns, page after
// page. The first page is read before anything is written, so that an error
// there still gets an error page; after that, a failure can only cut the
// file short (and is logged).
func streamCSV[T any](s *Server, c echo.Context, filename string, header []string,
	fetch func(after *string) ([]T, *string, error), record func(T) []string) error {
	rows, next, err := fetch(nil)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	if header != nil { // some providers' files have none (PayPal's)
		if err := w.Write(header); err != nil {
			return nil // the client went away
		}
	}
	for {
		for _, r := range rows {
			if err := w.Write(record(r)); err != nil {
				return nil
			}
		}
		w.Flush()
		if w.Error() != nil || next == nil {
			return nil
		}
		if rows, next, err = fetch(next); err != nil {
			s.log.Error("export stopped", "request_id", requestID(c), "file", filename, "err", err)
			return nil
		}
	}
}

// keysetFetch adapts a list function of the store that pages by Cursor.
func keysetFetch[T any](list func(store.Page) ([]T, *string, error)) func(*string) ([]T, *string, error) {
	return func(after *string) ([]T, *string, error) {
		page := store.Page{Limit: exportPage}
		if after != nil {
			cur, err := store.DecodeCursor(*after)
			if err != nil {
				return nil, nil, err
			}
			page.Cursor = cur
		}
		return list(page)
	}
}

func exportName(what string) string {
	return what + "-" + time.Now().UTC().Format(time.DateOnly) + ".csv"
}

func rfc3339(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ExportSales handles GET /sales.csv with the sales list's filters.
func (s *Server) ExportSales(c echo.Context) error {
	v, q, err := s.salesFilter(c)
	if err != nil {
		return err
	}
	if len(v.Errors) > 0 {
		if v.Programs, err = s.programOptions(c); err != nil {
			return err
		}
		return s.page(c, http.StatusBadRequest, s.meta(c, "Sales", "sales"), dashboard.Sales(v))
	}
	ctx, ws := c.Request().Context(), workspaceOf(c)
	return streamCSV(s, c, exportName("sales"), []string{"sale_id", "external_id", "created_at", "occurred_at",
		"program_id", "partner_id", "partner_name", "customer_external_id", "currency", "amount", "amount_minor",
		"refunded", "refunded_minor", "event_name", "click_id", "code_id", "code"},
		keysetFetch(func(p store.Page) ([]store.SaleRow, *string, error) { return s.store.ListSaleRows(ctx, ws, q, p) }),
		func(r store.SaleRow) []string {
			return []string{r.ID, csvText(r.ExternalID), rfc3339(&r.CreatedAt), rfc3339(&r.OccurredAt),
				r.ProgramID, r.PartnerID, csvText(r.PartnerName), csvText(r.CustomerExternalID), r.Currency,
				money.Decimal(r.AmountCents, r.Currency), strconv.FormatInt(r.AmountCents, 10),
				money.Decimal(r.RefundedCents, r.Currency), strconv.FormatInt(r.RefundedCents, 10),
				csvText(r.EventName), deref(r.ClickID), deref(r.CodeID), csvText(deref(r.CouponCode))}
		})
}

// ExportCommissions handles GET /commissions.csv with the commission list's filters.
func (s *Server) ExportCommissions(c echo.Context) error {
	f := commissionsFilter(c)
	v := dashboard.CommissionsView{CSRF: csrfToken(c), Filter: f, Errors: map[string]string{}}
	q, err := s.commissionsQuery(c, f, &v)
	if err != nil {
		return err
	}
	if len(v.Errors) > 0 {
		if v.Programs, err = s.programOptions(c); err != nil {
			return err
		}
		return s.page(c, http.StatusBadRequest, s.meta(c, "Commissions", "commissions"), dashboard.Commissions(v))
	}
	ctx, ws := c.Request().Context(), workspaceOf(c)
	return streamCSV(s, c, exportName("commissions"), []string{"commission_id", "created_at", "status", "type",
		"program_id", "program_name", "partner_id", "partner_name", "partner_email", "customer_external_id",
		"currency", "amount", "amount_minor", "payable_at", "sale_id", "adjusts_commission_id", "payout_id"},
		keysetFetch(func(p store.Page) ([]store.CommissionRow, *string, error) {
			return s.store.ListCommissionRows(ctx, ws, q, p)
		}),
		func(r store.CommissionRow) []string {
			return []string{r.ID, rfc3339(&r.CreatedAt), r.Status, r.Type, r.ProgramID, csvText(r.ProgramName),
				r.PartnerID, csvText(r.PartnerName), csvText(r.PartnerEmail), csvText(deref(r.CustomerExternalID)),
				r.Currency, money.Decimal(r.AmountCents, r.Currency), strconv.FormatInt(r.AmountCents, 10),
				rfc3339(&r.PayableAt), r.EventID, deref(r.AdjustsID), deref(r.PayoutID)}
		})
}

// ExportReadyToPay handles GET /payouts/ready.csv: every partner's balance
// that is ready to pay (approved, in no payout yet, adjustments netted), per
// currency, read from the ledger's balances; whether it reaches the
// program's minimum (which is in the program's currency: a balance in
// another currency has none), and the partner's payout method.
func (s *Server) ExportReadyToPay(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceOf(c)
	return streamCSV(s, c, exportName("ready-to-pay"), []string{"partner_id", "partner_name", "partner_email",
		"program_id", "program_name", "currency", "balance", "balance_minor", "commissions", "adjustments",
		"minimum_payout", "minimum_currency", "reaches_minimum", "payout_method", "payout_method_ready"},
		func(after *string) ([]store.Balance, *string, error) {
			var cur *store.BalanceCursor
			if after != nil {
				var err error
				if cur, err = store.DecodeBalanceCursor(*after); err != nil {
					return nil, nil, err
				}
			}
			return s.store.ReadyToPay(ctx, ws, "", cur, exportPage)
		},
		func(b store.Balance) []string {
			minimum, minCurrency := "", ""
			if commission.MinimumApplies(b.Currency, b.ProgramCurrency) {
				minimum, minCurrency = money.Decimal(b.MinPayoutCents, b.ProgramCurrency), b.ProgramCurrency
			}
			method, ready := "", false
			if b.Method != nil {
				method = b.Method.Type
			}
			ready, _ = payout.Readiness(b.Method)
			return []string{b.PartnerID, csvText(b.PartnerName), csvText(b.PartnerEmail), b.ProgramID,
				csvText(b.ProgramName), b.Currency, money.Decimal(b.Cents, b.Currency), strconv.FormatInt(b.Cents, 10),
				strconv.FormatInt(b.Count, 10), money.Decimal(b.AdjustmentCents, b.Currency), minimum, minCurrency,
				strconv.FormatBool(commission.CheckPayable(b.Cents, b.Currency, b.MinPayoutCents, b.ProgramCurrency) == nil),
				method, strconv.FormatBool(ready)}
		})
}

var payoutCSVHeader = []string{"payout_id", "partner_name", "partner_email", "currency", "amount", "amount_minor",
	"status", "method", "recipient", "reference", "created_at", "paid_at"}

// ExportPayouts handles GET /payouts/export.csv?status=…&format=…: every
// payout (of that status), newest first, as Partli's CSV, or pending ones
// as PayPal's or Wise's batch file (format=paypal|wise, with currency).
func (s *Server) ExportPayouts(c echo.Context) error {
	format := c.QueryParam("format")
	if format == "" {
		format = "csv"
	}
	if !oneOf(format, exportFormats) {
		return echo.NewHTTPError(http.StatusBadRequest, "Unknown export format "+strconv.Quote(format)+": choose PayPal, Wise or CSV.")
	}
	f, err := exportFilter(c, format)
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return echo.NewHTTPError(http.StatusBadRequest, "The export's "+firstField(apiErr.Fields)+" is not valid.")
	}
	if err != nil {
		return err
	}
	err = s.exportPayouts(c, format, f)
	if errors.As(err, &apiErr) {
		return echo.NewHTTPError(http.StatusBadRequest, capitalize(apiErr.Fields["currency"])+".")
	}
	return err
}

func firstField(f map[string]string) string {
	for k := range f {
		return k
	}
	return "filter"
}

// ExportPayout handles GET /payouts/:id/export.csv.
func (s *Server) ExportPayout(c echo.Context) error {
	p, err := s.store.PayoutRowByID(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFoundPage("payout")
	}
	if err != nil {
		return err
	}
	return streamCSV(s, c, "payout-"+p.ID+".csv", payoutCSVHeader,
		func(*string) ([]store.PayoutRow, *string, error) { return []store.PayoutRow{*p}, nil, nil }, payoutCSVRecord)
}

func payoutCSVRecord(p store.PayoutRow) []string {
	return []string{p.ID, csvText(p.PartnerName), csvText(p.PartnerEmail), p.Currency,
		money.Decimal(p.AmountCents, p.Currency), strconv.FormatInt(p.AmountCents, 10),
		p.Status, p.Method, csvText(p.Recipient), csvText(p.Reference), p.CreatedAt.UTC().Format(time.RFC3339), rfc3339(p.PaidAt)}
}
