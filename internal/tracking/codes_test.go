package tracking_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/tracking"
)

// Concurrent first sales of one customer, some with a partner's code and
// some with another partner's click: the customer goes to one partner, every
// sale with them, and a sale records the code only when it went to the
// code's partner. Many customers at once share batches.
func TestConcurrentCodeAndClickSales(t *testing.T) {
	f := newFx(t, nil)
	p := f.program("USD", 30, 90)
	f.reward(p, nil, rewardSpec{bp: 1000, interval: tracking.Recurring})
	ada, grace := f.partner(p, nil, "approved"), f.partner(p, nil, "approved")
	code := &store.Code{ID: ids.New(ids.Code), WorkspaceID: f.ws, PartnerID: ada.ID, Code: "ADA10", CreatedBy: store.CodeByAPI}
	if err := f.st.CreateCode(f.ctx, code); err != nil {
		t.Fatal(err)
	}
	click := f.click(grace)
	const customers, perCustomer = 20, 6
	var wg sync.WaitGroup
	errs := make(chan error, customers*perCustomer)
	for c := range customers {
		for i := range perCustomer {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := tracking.SaleInput{ExternalID: fmt.Sprintf("o-%d-%d", c, i), CustomerExternalID: fmt.Sprintf("cus-%d", c),
					AmountCents: 1000, Currency: "USD", EventName: "sale", OccurredAt: time.Now().UTC().Truncate(time.Microsecond)}
				if i%2 == 0 {
					in.CouponCode = "ada10"
				} else {
					in.ClickID = click
				}
				res, err := f.svc.TrackSale(f.ctx, f.ws, in)
				if err == nil && !res.Attributed {
					err = fmt.Errorf("%s not attributed", in.ExternalID)
				}
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.count(`SELECT count(*) FROM events WHERE workspace_id = $1`); n != customers*perCustomer {
		t.Fatalf("%d sales, want %d", n, customers*perCustomer)
	}
	// One partner per customer, that of the customer row.
	if n := f.count(`SELECT count(*) FROM (SELECT customer_id FROM events WHERE workspace_id = $1
		GROUP BY customer_id HAVING count(DISTINCT partner_id) > 1) x`); n != 0 {
		t.Fatalf("%d customers' sales went to two partners", n)
	}
	if n := f.count(`SELECT count(*) FROM events e JOIN customers cu ON cu.workspace_id = e.workspace_id AND cu.id = e.customer_id
		WHERE e.workspace_id = $1 AND e.partner_id <> cu.partner_id`); n != 0 {
		t.Fatalf("%d sales are not their customer's partner's", n)
	}
	// The code is recorded only on Ada's sales, and on every one of Ada's
	// sales that came with it.
	if n := f.count(`SELECT count(*) FROM events WHERE workspace_id = $1 AND code_id IS NOT NULL AND partner_id <> $2`, ada.ID); n != 0 {
		t.Fatalf("%d sales of another partner record Ada's code", n)
	}
	if n := f.count(`SELECT count(*) FROM events WHERE workspace_id = $1 AND code_id = $2 AND partner_id = $3`, code.ID, ada.ID); n !=
		f.count(`SELECT count(*) FROM events WHERE workspace_id = $1 AND partner_id = $2 AND metadata IS NULL AND external_id ~ '-[024]$'`, ada.ID) {
		t.Fatalf("Ada's sales with her code do not all record it")
	}
}
