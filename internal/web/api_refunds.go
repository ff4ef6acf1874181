package web

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
)

// refundReply is the reply to a refund: the sale and its commissions after
// it (the original and its negative adjustments, oldest first).
type refundReply struct {
	Sale        *store.Sale        `json:"sale"`
	Commissions []store.Commission `json:"commissions"`
}

// TrackRefund handles POST /api/track/refund {externalId, amountCents?, reason?, refundId?}:
// the same refund rules as Stripe's refunds (commission.Refund). Without
// amountCents the rest of the sale is refunded, so a repeat finds nothing
// left and changes nothing; with it, the refund is added to what was
// refunded, and an amount above what is left of the sale is 409 and changes
// nothing — unless refundId names a refund already applied, which makes a
// retried partial refund a no-op.
func (s *Server) TrackRefund(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	r := commission.Refund{Source: "the API", Actor: "api key " + c.Get(apiKeyIDKey).(string)}
	r.ExternalID, _ = b.text("externalId", true, 255)
	if v, ok := b.int("amountCents", 1, money.MaxSaleCents); ok {
		r.AmountCents = v
	}
	r.Reason, _ = b.text("reason", false, 1000)
	r.RefundID, _ = b.text("refundId", false, 255)
	if err := b.err(); err != nil {
		return err
	}
	res, err := s.commissions.Refund(c.Request().Context(), workspaceOf(c), r)
	if errors.Is(err, store.ErrNotFound) {
		return notFoundField("externalId", "No sale of this workspace has this externalId.")
	}
	var tooLarge *commission.RefundTooLargeError
	if errors.As(err, &tooLarge) {
		return conflict("amountCents", "The refund is larger than what is left of the sale to refund ("+
			money.Format(tooLarge.LeftCents, tooLarge.Currency)+" of "+money.Format(tooLarge.SaleCents, tooLarge.Currency)+").")
	}
	if err != nil {
		return err
	}
	cs := res.Commissions
	if cs == nil {
		cs = []store.Commission{}
	}
	return c.JSON(http.StatusOK, refundReply{Sale: res.Sale, Commissions: cs})
}
