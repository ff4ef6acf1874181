package tracking

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/outbox"
	"github.com/partli/partli/internal/store"
)

// Service runs the sale and lead pipelines.
type Service struct {
	store *store.Store
	hot   *store.HotPath
	now   func() time.Time
	// verified holds the programs this process knows are verified (see
	// markVerified in verify.go).
	verified sync.Map
	// sales queues sales for their batch (batch.go).
	sales saleBatcher
	// observe records the batches, when metrics are on.
	observe store.BatchObserver
}

// New returns the tracking service over st.
func New(st *store.Store) *Service {
	return &Service{store: st, hot: st.HotPath(), now: time.Now, observe: st.HotPath().Metrics()}
}

// SaleInput is a validated POST /api/track/sale body.
type SaleInput struct {
	ExternalID         string
	CustomerExternalID string
	AmountCents        int64
	Currency           string
	ClickID            string
	// CouponCode is a code the customer used ("MAYA20", any case): with no
	// attributing click, a live code of the workspace attributes.
	CouponCode string
	EventName  string
	Metadata   json.RawMessage
	OccurredAt time.Time
}

// LeadInput is a validated POST /api/track/lead body.
type LeadInput struct {
	ExternalID         string
	CustomerExternalID string
	CustomerEmail      string
	CustomerName       string
	ClickID            string
	CouponCode         string
	EventName          string
	Metadata           json.RawMessage
	OccurredAt         time.Time
}

// Result is the reply to a tracking call.
type Result struct {
	EventID    *string           `json:"eventId"`
	Attributed bool              `json:"attributed"`
	Duplicate  bool              `json:"duplicate"`
	Commission *store.Commission `json:"commission"`
}

// errRepeat unwinds a transaction that lost the race to record an external id.
var errRepeat = errors.New("tracking: external id already recorded")

// TrackSale runs the sale pipeline: attribution, customer, sale event, reward,
// one-time and duration rules, amount, pending commission and outbox events,
// in one transaction. A repeat of an external id changes nothing.
//
// It is the hot path of Partli, so it runs few statements, each prepared
// (store.HotPath): one read per sale that finds a repeat, the partner and
// the reward context; then the sale joins a batch (batch.go), whose
// transaction runs one statement for the customers and sales, one for the
// earlier commissions of returning customers, and one for the commissions,
// their history, the outbox and the roll-ups, however many sales it holds.
//
// Lock order. Every sale and lead transaction takes its locks in this order,
// and nothing else locks these rows in another order, so they queue and
// never deadlock; PostgreSQL would still break a deadlock by aborting one
// transaction, and store.InTx runs that one again (a 503 only when it keeps
// failing), never a 500:
//  1. the customer: its row, or the unique key (workspace, external id) of
//     a concurrent first insert (RecordSale / UpsertCustomer), so every
//     per-customer decision (one-time, duration cap, first partner) is
//     serialized per customer;
//  2. the event's unique key (workspace, kind, external id), a repeat
//     waiting here for the first post to commit or roll back;
//  3. the program's row, only until the program is verified (the go-live
//     checklist's first end-to-end event; MarkProgramVerified);
//  4. the commission's unique keys (one per event, one-time, lead) and,
//     through its foreign keys, key-share locks on the partner, customer
//     and event rows;
//  5. the webhook endpoints, key-share with SKIP LOCKED: never waited on;
//  6. the day's roll-up rows (daily_totals, the partner's earnings), in key order,
//     in the transaction's last statement (store/stats.go).
//
// The partner's new-commission mail is a new row of mail_outbox (which has
// no foreign keys) written by the commission's statement; it reads the
// partner, the program and the partner's mail preference without locking
// them, so it takes no lock of its own and adds nothing to this order.
//
// No Go lock is taken while a transaction is open, and no second pool
// connection is asked for inside one (store.HotPath).
func (s *Service) TrackSale(ctx context.Context, workspaceID string, in SaleInput) (*Result, error) {
	// PostgreSQL keeps microseconds; so does everything we reply.
	in.OccurredAt = in.OccurredAt.Round(time.Microsecond)
	look, err := s.hot.LookupSale(ctx, workspaceID, in.CustomerExternalID, in.ClickID, in.ExternalID, in.CouponCode)
	if err != nil {
		return nil, err
	}
	if look.RepeatID != nil {
		return s.repeatOf(ctx, workspaceID, look.RepeatID, look.RepeatCommissionID)
	}
	chooseSale(look)
	if look.PartnerID == nil {
		return &Result{}, nil // nothing attributes: a no-op
	}
	return s.recordSale(ctx, workspaceID, in, look)
}

// TrackLead runs the lead pipeline: as a sale, but the commission comes only
// from the partner's group's (flat) lead reward, at most once per customer
// per program.
func (s *Service) TrackLead(ctx context.Context, workspaceID string, in LeadInput) (*Result, error) {
	return s.track(ctx, workspaceID, "lead", in.ExternalID, func(tx *store.SaleTx, now time.Time) (*Result, error) {
		cust, code, ok, err := s.attribute(ctx, tx, workspaceID, in)
		if err != nil || !ok {
			return &Result{}, err
		}
		var codeID, couponCode *string
		if code != nil {
			codeID, couponCode = &code.ID, &code.Code
		}
		ev := &store.Event{
			ID: ids.New(ids.Lead), WorkspaceID: workspaceID, Kind: "lead", ExternalID: in.ExternalID,
			ProgramID: *cust.ProgramID, PartnerID: *cust.PartnerID, ClickID: cust.ClickID, CodeID: codeID,
			EventName: in.EventName, Metadata: in.Metadata, OccurredAt: in.OccurredAt,
		}
		if cust.ID != "" {
			ev.CustomerID = &cust.ID
		}
		if inserted, err := tx.InsertEvent(ctx, ev); err != nil {
			return nil, err
		} else if !inserted {
			return nil, errRepeat
		}
		rc, err := tx.RewardContextFor(ctx, workspaceID, ev.PartnerID, "lead")
		if err != nil {
			return nil, err
		}
		lead := outbox.LeadData{ID: ev.ID, ExternalID: ev.ExternalID, ProgramID: ev.ProgramID, PartnerID: ev.PartnerID,
			ClickID: ev.ClickID, CodeID: codeID, CouponCode: couponCode, EventName: ev.EventName, Metadata: ev.Metadata,
			OccurredAt: ev.OccurredAt, CreatedAt: ev.CreatedAt, Customer: customerRef(cust)}
		leadEvent, err := outbox.New(workspaceID, outbox.LeadCreated, now, lead)
		if err != nil {
			return nil, err
		}
		res := &Result{EventID: &ev.ID, Attributed: true}
		events := []store.WebhookEvent{leadEvent}
		reward := rewardOf(rc.GroupReward)
		pay := reward != nil && reward.Type == Flat && rc.PartnerStatus == "approved"
		if pay && ev.CustomerID != nil {
			prior, _, err := tx.PriorCommissions(ctx, workspaceID, ev.ProgramID, cust.ID, "lead")
			if err != nil {
				return nil, err
			}
			pay = !prior
		}
		if pay {
			c := newCommission(ev, cust, reward, rc, reward.AmountCents, rc.ProgramCurrency, now)
			if res.Commission, events, err = s.recordCommission(ctx, tx, c, rc, cust, events, now); err != nil {
				return nil, err
			}
		}
		if err := s.markVerified(ctx, tx.Tx, workspaceID, ev.ProgramID); err != nil {
			return nil, err
		}
		return res, tx.InsertWebhookEvents(ctx, events...)
	})
}

// track is the frame of the lead pipeline: the repeat check, the
// transaction (with the lead's statements prepared, store.HotPath.LeadTx),
// and the reply for a repeat that raced us to the unique key.
func (s *Service) track(ctx context.Context, workspaceID, kind, externalID string,
	run func(tx *store.SaleTx, now time.Time) (*Result, error)) (*Result, error) {
	if res, err := s.repeat(ctx, workspaceID, kind, externalID); res != nil || err != nil {
		return res, err
	}
	var res *Result
	err := s.hot.LeadTx(ctx, func(tx *store.SaleTx) error {
		var err error
		res, err = run(tx, s.now().UTC())
		return err
	})
	if errors.Is(err, errRepeat) || store.ConflictKey(err) == store.CommissionPerEventKey {
		res, err = s.repeat(ctx, workspaceID, kind, externalID)
		if res == nil && err == nil {
			err = errors.New("tracking: repeat vanished")
		}
	}
	return res, err
}

// repeat replies to an external id that is already recorded, or returns nil.
func (s *Service) repeat(ctx context.Context, workspaceID, kind, externalID string) (*Result, error) {
	ref, err := s.store.EventByExternalID(ctx, workspaceID, kind, externalID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.repeatOf(ctx, workspaceID, &ref.ID, ref.CommissionID)
}

// repeatOf replies to a repeat of the recorded event eventID.
func (s *Service) repeatOf(ctx context.Context, workspaceID string, eventID, commissionID *string) (*Result, error) {
	res := &Result{EventID: eventID, Attributed: true, Duplicate: true}
	if commissionID != nil {
		var err error
		if res.Commission, err = s.store.Commission(ctx, workspaceID, *commissionID); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// attribute finds the partner for a lead (Attribute) and upserts the
// customer: a known customer keeps the partner who referred them first;
// otherwise the click must be this workspace's and inside its program's
// cookie window; otherwise a live code of the workspace attributes. ok is
// false when nothing attributes; nothing is written then. Without a
// customer id the returned customer has no ID and is not stored. recorded
// is the code the lead records (see Attribution.RecordsCode).
func (s *Service) attribute(ctx context.Context, tx *store.SaleTx, workspaceID string, in LeadInput) (cust *store.Customer, recorded *store.LiveCode, ok bool, err error) {
	var (
		f     AttributionFacts
		known *store.Customer
		click *store.Click
		code  *store.LiveCode
	)
	if in.CustomerExternalID != "" {
		c, err := tx.CustomerByExternalID(ctx, workspaceID, in.CustomerExternalID)
		switch {
		case err == nil && c.PartnerID != nil:
			known, f.CustomerPartner = c, c.PartnerID
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return nil, nil, false, err
		}
	}
	if in.ClickID != "" && known == nil {
		c, err := tx.AttributableClick(ctx, workspaceID, in.ClickID)
		switch {
		case err == nil:
			click, f.ClickPartner = c, &c.PartnerID
		case !errors.Is(err, store.ErrNotFound):
			return nil, nil, false, err
		}
	}
	if in.CouponCode != "" {
		c, err := tx.LiveCodeByCode(ctx, workspaceID, in.CouponCode)
		switch {
		case err == nil:
			code, f.CodePartner = c, &c.PartnerID
		case !errors.Is(err, store.ErrNotFound):
			return nil, nil, false, err
		}
	}
	a := Attribute(f)
	if a.From == "" {
		return nil, nil, false, nil
	}
	cust = &store.Customer{ID: ids.New(ids.Customer), WorkspaceID: workspaceID, ExternalID: in.CustomerExternalID,
		Email: in.CustomerEmail, Name: in.CustomerName}
	switch a.From {
	case FromCustomer:
		cust.PartnerID, cust.ProgramID, cust.ClickID = known.PartnerID, known.ProgramID, known.ClickID
	case FromClick:
		cust.PartnerID, cust.ProgramID, cust.ClickID = &click.PartnerID, &click.ProgramID, &click.ID
	case FromCode:
		cust.PartnerID, cust.ProgramID = &code.PartnerID, &code.ProgramID
	}
	if in.CustomerExternalID == "" {
		cust.ID = ""
	} else if err := tx.UpsertCustomer(ctx, cust); err != nil {
		// The upsert returns the stored customer: if a concurrent call
		// attributed it first, that call's partner wins, as it would have
		// sequentially.
		return nil, nil, false, err
	}
	if code != nil && *cust.PartnerID == code.PartnerID {
		recorded = code
	}
	return cust, recorded, true, nil
}

func (s *Service) recordCommission(ctx context.Context, tx *store.SaleTx, c *store.Commission, rc *store.RewardContext,
	cust *store.Customer, events []store.WebhookEvent, now time.Time) (*store.Commission, []store.WebhookEvent, error) {
	if err := tx.InsertCommission(ctx, c, "system"); err != nil {
		return nil, nil, err
	}
	e, err := outbox.New(c.WorkspaceID, outbox.CommissionCreated, now,
		outbox.CommissionData{Commission: *c, Partner: rc.Partner, Customer: customerRef(cust)})
	if err != nil {
		return nil, nil, err
	}
	return c, append(events, e), nil
}

func newCommission(ev *store.Event, cust *store.Customer, r *Reward, rc *store.RewardContext, amount int64, currency string, now time.Time) *store.Commission {
	c := &store.Commission{
		ID: ids.New(ids.Commission), WorkspaceID: ev.WorkspaceID, ProgramID: ev.ProgramID, PartnerID: ev.PartnerID,
		CustomerID: ev.CustomerID, EventID: ev.ID, RewardID: &r.ID, Type: ev.Kind, AmountCents: amount,
		Currency: currency, Status: commission.Pending, OccurredAt: ev.OccurredAt,
		// Whole microseconds, as PostgreSQL keeps it.
		PayableAt:  now.AddDate(0, 0, HoldingDays(rc.GroupHoldingDays, rc.ProgramHoldingDays)).Round(time.Microsecond),
		RewardType: &r.Type, RewardInterval: &r.Interval, RewardDurationMonths: r.DurationMonths,
	}
	if r.Type == Percentage {
		c.RewardPercentBP = &r.PercentBP
	} else {
		c.RewardAmountCents = &r.AmountCents
	}
	return c
}

func rewardOf(r store.RewardRow) *Reward {
	if r.ID == nil {
		return nil
	}
	out := &Reward{ID: *r.ID, Type: *r.Type, Interval: *r.Interval, DurationMonths: r.DurationMonths}
	if r.PercentBP != nil {
		out.PercentBP = *r.PercentBP
	}
	if r.AmountCents != nil {
		out.AmountCents = *r.AmountCents
	}
	return out
}

func customerRef(c *store.Customer) *store.CustomerRef {
	if c.ID == "" {
		return nil
	}
	return &store.CustomerRef{ExternalID: c.ExternalID, Email: c.Email, Name: c.Name}
}

// RecordClick records a click on the referral link slug, flagging it for
// velocity when this IP hash already made threshold clicks on the partner
// within window, and returns the link. It returns store.ErrNotFound,
// recording nothing, when no approved partner has the slug.
func (s *Service) RecordClick(ctx context.Context, slug string, c *store.Click, window time.Duration, threshold int) (*store.Link, error) {
	return s.hot.RecordClick(ctx, slug, c, window, threshold)
}
