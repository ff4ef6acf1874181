package tracking

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/outbox"
	"github.com/partli/partli/internal/store"
)

// Sales are written in batches (store/salebatch.go). A sale that finds no
// batch being written starts one at once, alone: a quiet service adds no
// wait. Sales that arrive while a batch is being written queue, and the
// next batch takes them all, so under load each transaction carries many
// sales and its statements and commit are shared.
//
// Within a batch every guarantee of a lone sale holds:
//   - two posts of one external id never share a batch: the later one waits
//     for the next, where it finds the first recorded and replies with it;
//   - two sales of one customer never share a batch either, so the one-time
//     rule, the duration cap and "the first partner keeps the customer" are
//     decided against the committed state, as one after the other;
//   - a sale the database refuses (a value it cannot store, a constraint)
//     fails alone: the batch is written again sale by sale;
//   - no caller is answered before its batch has committed.

const (
	// maxSaleBatch is the most sales one transaction carries.
	maxSaleBatch = 64
	// maxSaleWriters is how many batches may be written at once. Another
	// writer starts when more than gatherSales sales per running writer
	// are waiting: one writer is one database backend, one core, and on a
	// 2-core machine at 16 concurrent sales a second writer raised
	// track/sale from 509-588 to 549-730 sales/s (four alternating 10 s
	// runs of partli-bench, 2026-12-04, 2-core AMD EPYC VM, 24 GB RAM,
	// PostgreSQL 15.20, load average about 3 from other work), with batches
	// of 5.5 sales instead of 8.
	maxSaleWriters = 3
	// batchDeadline bounds one batch's transaction, like a request's.
	batchDeadline = 30 * time.Second
)

// saleBatcher is the queue of sales waiting for a batch.
type saleBatcher struct {
	mu      sync.Mutex
	queue   []*pendingSale
	writers int
	// more wakes a writer gathering a batch when a sale is queued.
	more chan struct{}
}

const (
	// gatherWait is how long a writer that has just written a batch waits
	// for more sales before the next one, when fewer than gatherSales are
	// queued: under load, a few hundred microseconds buy a larger batch
	// (fewer statements and commits per sale); a writer that finds the
	// service idle does not wait.
	gatherWait  = 300 * time.Microsecond
	gatherSales = 8
)

// pendingSale is one sale waiting for its batch, and then its outcome.
type pendingSale struct {
	ws     string
	in     SaleInput
	look   *store.SaleLookup
	queued time.Time

	res    *Result
	err    error
	repeat bool // another post of its external id was recorded first
	done   chan struct{}
}

// recordSale queues a sale that is not a known repeat and attributes, and
// waits for its batch to commit.
func (s *Service) recordSale(ctx context.Context, ws string, in SaleInput, look *store.SaleLookup) (*Result, error) {
	ps := &pendingSale{ws: ws, in: in, look: look, queued: time.Now(), done: make(chan struct{})}
	b := &s.sales
	b.mu.Lock()
	b.queue = append(b.queue, ps)
	start := b.writers == 0 || (b.writers < maxSaleWriters && len(b.queue) >= gatherSales*b.writers)
	if start {
		b.writers++
	}
	if b.more == nil {
		b.more = make(chan struct{}, 1)
	}
	more := b.more
	b.mu.Unlock()
	select {
	case more <- struct{}{}:
	default:
	}
	if start {
		go s.writeSales()
	}
	select {
	case <-ps.done:
	case <-ctx.Done():
		// The sale may still be written; the caller is not told it was.
		return nil, ctx.Err()
	}
	if ps.repeat {
		res, err := s.repeat(ctx, ws, "sale", in.ExternalID)
		if res == nil && err == nil {
			err = errors.New("tracking: repeat vanished")
		}
		return res, err
	}
	return ps.res, ps.err
}

// writeSales writes batches until no sale is waiting. After a batch, with
// a few sales waiting, it gathers for a moment (gatherWait) before the next.
func (s *Service) writeSales() {
	busy := false
	for {
		if busy {
			s.gather()
		}
		busy = true
		batch := s.takeSales()
		if batch == nil {
			return
		}
		if s.observe != nil {
			s.observe.ObserveBatch("sale", len(batch), time.Since(batch[0].queued))
		}
		s.writeBatch(batch)
		for _, ps := range batch {
			close(ps.done)
		}
	}
}

// gather waits up to gatherWait for gatherSales sales to be queued, unless
// there are none at all (then the writer is about to stop).
func (s *Service) gather() {
	b := &s.sales
	deadline := time.NewTimer(gatherWait)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		n, more := len(b.queue), b.more
		b.mu.Unlock()
		if n == 0 || n >= gatherSales {
			return
		}
		select {
		case <-more:
		case <-deadline.C:
			return
		}
	}
}

// takeSales takes the next batch off the queue: up to maxSaleBatch sales in
// the order they came, leaving for a later batch any sale whose customer or
// external id is already in this one. With nothing waiting it returns nil
// and the writer stops.
func (s *Service) takeSales() []*pendingSale {
	b := &s.sales
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		b.writers--
		return nil
	}
	type key struct{ ws, id string }
	customers, externals := map[key]bool{}, map[key]bool{}
	var batch []*pendingSale
	rest := b.queue[:0]
	for _, ps := range b.queue {
		c, e := key{ps.ws, ps.in.CustomerExternalID}, key{ps.ws, ps.in.ExternalID}
		if len(batch) == maxSaleBatch || customers[c] || externals[e] {
			rest = append(rest, ps)
			continue
		}
		customers[c], externals[e] = true, true
		batch = append(batch, ps)
	}
	clear(b.queue[len(rest):])
	b.queue = rest
	return batch
}

// writeBatch writes a batch in one transaction. When the database refuses
// the batch for a reason of one of its sales, the sales are written again
// one by one, so that only that sale fails.
func (s *Service) writeBatch(batch []*pendingSale) {
	ctx, cancel := context.WithTimeout(context.Background(), batchDeadline)
	defer cancel()
	var (
		outcomes []saleOutcome
		verified []string
	)
	err := s.hot.InTx(ctx, func(tx *store.SaleTx) error {
		var err error
		outcomes, verified, err = s.recordBatch(ctx, tx, batch, s.now().UTC())
		return err
	})
	if err != nil && len(batch) > 1 && !store.IsUnavailable(err) && ctx.Err() == nil {
		for _, ps := range batch {
			s.writeBatch([]*pendingSale{ps})
		}
		return
	}
	for i, ps := range batch {
		switch {
		case err != nil:
			ps.err = err
		case outcomes[i].repeat:
			ps.repeat = true
		default:
			ps.res = outcomes[i].res
		}
	}
	if err == nil {
		// Programs the database answered were verified already (committed):
		// no later batch needs to ask again.
		for _, id := range verified {
			s.verified.Store(id, struct{}{})
		}
	}
}

// saleOutcome is what a batch decided for one of its sales.
type saleOutcome struct {
	res    *Result
	repeat bool
}

// recordBatch runs the sale pipeline for a batch inside tx: customers and
// sale events, earlier commissions of returning customers, the decisions,
// and commissions with their history, outbox events and roll-ups. The
// outcomes come in the batch's order, with the programs that were verified
// already.
func (s *Service) recordBatch(ctx context.Context, tx *store.SaleTx, batch []*pendingSale, now time.Time) ([]saleOutcome, []string, error) {
	// The customers' rows are locked in one order, the same in every batch.
	order := make([]int, len(batch))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(batch[a].ws, batch[b].ws), cmp.Compare(batch[a].in.CustomerExternalID, batch[b].in.CustomerExternalID))
	})
	rows := make([]store.BatchSale, len(batch))
	for j, i := range order {
		ps := batch[i]
		in, look := ps.in, ps.look
		currency := in.Currency
		rows[j] = store.BatchSale{
			Customer: store.Customer{ID: ids.New(ids.Customer), WorkspaceID: ps.ws, ExternalID: in.CustomerExternalID,
				PartnerID: look.PartnerID, ProgramID: look.ProgramID, ClickID: look.ClickID},
			Event: store.Event{ID: ids.New(ids.Sale), WorkspaceID: ps.ws, Kind: "sale", ExternalID: in.ExternalID,
				AmountCents: in.AmountCents, Currency: &currency, EventName: in.EventName, Metadata: in.Metadata,
				OccurredAt: in.OccurredAt},
			CodeID: look.CodeID, CodePartnerID: look.CodePartnerID,
		}
	}
	recorded, err := tx.RecordSales(ctx, rows)
	if err != nil {
		return nil, nil, err
	}

	type sale struct {
		i      int // in the batch
		ps     *pendingSale
		cust   store.Customer
		ev     store.Event
		rc     *store.RewardContext
		reward *Reward
		facts  SaleFacts
		now    time.Time
	}
	out := make([]saleOutcome, len(batch))
	var (
		sales     []*sale
		priorOf   []store.PriorOf
		priorSale []*sale
	)
	for j, rec := range recorded {
		i := order[j]
		ps := batch[i]
		if rec.EventCreatedAt == nil {
			out[i].repeat = true
			continue
		}
		sl := &sale{i: i, ps: ps, cust: rec.Customer, ev: rows[j].Event, now: rec.Now}
		ev := &sl.ev
		ev.CustomerID, ev.ProgramID, ev.PartnerID, ev.ClickID = &sl.cust.ID, *sl.cust.ProgramID, *sl.cust.PartnerID, sl.cust.ClickID
		ev.CreatedAt, ev.CodeID = *rec.EventCreatedAt, rec.EventCodeID
		sl.rc = &ps.look.Reward
		if ev.PartnerID != *ps.look.PartnerID {
			// A concurrent sale attributed the customer to another partner first.
			if sl.rc, err = tx.RewardContextFor(ctx, ps.ws, ev.PartnerID, "sale"); err != nil {
				return nil, nil, err
			}
		}
		sl.reward = ResolveReward(rewardOf(sl.rc.GroupReward), rewardOf(sl.rc.DefaultReward))
		sl.facts = SaleFacts{Reward: sl.reward, AmountCents: ps.in.AmountCents, Currency: *ev.Currency,
			ProgramCurrency: sl.rc.ProgramCurrency, OccurredAt: ps.in.OccurredAt}
		if sl.reward == nil || sl.rc.PartnerStatus != "approved" {
			sl.facts.Reward = nil // a partner who is not approved earns nothing
		} else if !rec.CustomerIsNew {
			// A customer inserted by this batch has no commissions yet.
			priorOf = append(priorOf, store.PriorOf{WorkspaceID: ps.ws, ProgramID: ev.ProgramID, CustomerID: sl.cust.ID})
			priorSale = append(priorSale, sl)
		}
		sales = append(sales, sl)
		out[i].res = &Result{EventID: &sl.ev.ID, Attributed: true}
	}
	if len(priorOf) > 0 {
		priors, err := tx.PriorCommissionsOf(ctx, priorOf)
		if err != nil {
			return nil, nil, err
		}
		for k, p := range priors {
			priorSale[k].facts.PriorCommission, priorSale[k].facts.FirstCommissionedAt = p.Any, p.First
		}
	}

	var (
		stats       []store.SaleStat
		commissions []*store.Commission
		events      []store.WebhookEvent
		verify      = map[[2]string]bool{}
		verified    []string
	)
	for _, sl := range sales {
		ps, ev, cust := sl.ps, &sl.ev, &sl.cust
		stats = append(stats, store.SaleStat{WorkspaceID: ps.ws, ProgramID: ev.ProgramID, PartnerID: ev.PartnerID,
			Currency: *ev.Currency, AmountCents: ev.AmountCents})
		sd := store.Sale{
			ID: ev.ID, WorkspaceID: ps.ws, ExternalID: ev.ExternalID, CustomerID: cust.ID,
			CustomerExternalID: cust.ExternalID, ProgramID: ev.ProgramID, PartnerID: ev.PartnerID, ClickID: ev.ClickID,
			CodeID: ev.CodeID, AmountCents: ev.AmountCents, Currency: *ev.Currency, EventName: ev.EventName, Metadata: ev.Metadata,
			OccurredAt: ev.OccurredAt, CreatedAt: ev.CreatedAt,
		}
		if ev.CodeID != nil {
			sd.CouponCode = ps.look.Code
		}
		e, err := outbox.New(ps.ws, outbox.SaleCreated, now, outbox.SaleData{Sale: sd, Customer: customerRef(cust)})
		if err != nil {
			return nil, nil, err
		}
		events = append(events, e)
		if d := DecideSale(sl.facts); d.Pay {
			c := newCommission(ev, cust, sl.reward, sl.rc, d.AmountCents, d.Currency, now)
			c.SaleAmountCents = ev.AmountCents
			// As the row will be: the columns default to the transaction's now().
			c.CustomerExternalID = &cust.ExternalID
			c.CreatedAt, c.UpdatedAt = sl.now, sl.now
			e, err := outbox.New(ps.ws, outbox.CommissionCreated, now,
				outbox.CommissionData{Commission: *c, Partner: sl.rc.Partner, Customer: customerRef(cust)})
			if err != nil {
				return nil, nil, err
			}
			commissions, events = append(commissions, c), append(events, e)
			out[sl.i].res.Commission = c
		}
		if _, ok := s.verified.Load(ev.ProgramID); !ok {
			verify[[2]string{ps.ws, ev.ProgramID}] = true
		}
	}
	if len(verify) > 0 {
		keys := make([][2]string, 0, len(verify))
		for k := range verify {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
		wss, programs := make([]string, len(keys)), make([]string, len(keys))
		for k, key := range keys {
			wss[k], programs[k] = key[0], key[1]
		}
		if verified, err = tx.MarkProgramsVerified(ctx, wss, programs); err != nil {
			return nil, nil, err
		}
	}
	if len(sales) == 0 {
		return out, verified, nil
	}
	return out, verified, tx.RecordCommissions(ctx, stats, commissions, events)
}
