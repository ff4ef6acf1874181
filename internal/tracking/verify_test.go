package tracking_test

import (
	"testing"
	"time"

	"github.com/partli/partli/internal/tracking"
)

// The first event tracked for a program verifies it (draft → active), once;
// after the database has said so, the pipeline stops asking: a busy
// program's sales run no statement for it.
func TestVerifyProgramOnFirstTrackedEvent(t *testing.T) {
	t.Parallel()
	f := newFx(t, nil)
	p := f.program("USD", 30, 90)
	pa := f.partner(p, nil, "pending") // no reward, not approved: still end to end
	verifiedAt := func() *time.Time {
		t.Helper()
		var at *time.Time
		if err := f.db.GetContext(f.ctx, &at, `SELECT verified_at FROM programs WHERE id = $1`, p.ID); err != nil {
			t.Fatal(err)
		}
		return at
	}
	// Nothing attributes: still a draft.
	if res := f.sale(sale{ext: "o-0", cust: "c-0"}); res.Attributed || verifiedAt() != nil {
		t.Fatalf("an unattributed sale verified the program: %+v", res)
	}
	f.sale(sale{ext: "o-1", cust: "c-1", click: f.click(pa)})
	first := verifiedAt()
	if first == nil {
		t.Fatal("the first tracked sale did not verify the program")
	}
	f.sale(sale{ext: "o-2", cust: "c-2", click: f.click(pa)})
	if at := verifiedAt(); at == nil || !at.Equal(*first) {
		t.Fatalf("verified_at moved: %v → %v", first, at)
	}
	// The service now knows: clearing the column behind its back shows that
	// later sales do not touch the program row.
	f.exec(`UPDATE programs SET verified_at = NULL WHERE id = $1`, p.ID)
	f.sale(sale{ext: "o-3", cust: "c-3", click: f.click(pa)})
	if verifiedAt() != nil {
		t.Fatal("a sale of a program known to be verified ran the verification statement")
	}
	// A fresh service (another replica) verifies it again, and leads do too.
	f.svc = tracking.New(f.st)
	f.lead(tracking.LeadInput{ExternalID: "l-1", CustomerExternalID: "c-4", ClickID: f.click(pa)})
	if verifiedAt() == nil {
		t.Fatal("a tracked lead did not verify the program")
	}
}
