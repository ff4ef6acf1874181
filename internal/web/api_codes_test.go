package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/partli/partli/internal/store"
)

// Codes as well as links (issue 15): the REST path of codes, attribution by
// code on track/sale and track/lead, and program discounts.

// code gives a partner a code through the API.
func (e *env) code(t testing.TB, partnerID, code string) map[string]any {
	t.Helper()
	return e.call("POST", "/api/partners/"+partnerID+"/codes", e.Key, map[string]any{"code": code}).must(t, http.StatusCreated).Map(t)
}

func TestCodesREST(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	c := e.code(t, s.PartnerID, "MAYA20")
	if str(c, "code") != "MAYA20" || str(c, "partnerId") != s.PartnerID || str(c, "programId") != s.ProgramID ||
		!strings.HasPrefix(str(c, "id"), "code_") || c["stripePromotionCodeId"] != nil || str(c, "createdAt") == "" ||
		str(c, "status") != "live" || str(c, "stripeStatus") != "none" || str(c, "createdBy") != "api" {
		t.Fatalf("created %v", c)
	}
	// A partner may have several.
	e.code(t, s.PartnerID, "maya-yt")

	// Taken in another case: 409 naming the field; nothing written.
	for _, taken := range []string{"MAYA20", "maya20", "Maya20"} {
		r := e.call("POST", "/api/partners/"+s.PartnerID+"/codes", e.Key, map[string]any{"code": taken}).must(t, http.StatusConflict)
		if r.ErrorCode(t) != "conflict" || r.ErrorFields(t)["code"] == "" {
			t.Fatalf("%s: %s", taken, r.Body)
		}
	}
	// Also when another partner of the workspace asks for it.
	other := e.partner(t, s.ProgramID, nil)
	e.call("POST", "/api/partners/"+str(other, "id")+"/codes", e.Key, map[string]any{"code": "mAyA20"}).must(t, http.StatusConflict)

	// Bad input: 400 naming the field, nothing written.
	for _, bad := range []any{"MAYA 20", " MAYA20", "MAYA20 ", "🎉🎉🎉", "MAYA🎉", strings.Repeat("A", 200), strings.Repeat("A", 33),
		"AB", "", "MÄYA", "MAYA.20", 20, nil, true} {
		r := e.call("POST", "/api/partners/"+s.PartnerID+"/codes", e.Key, map[string]any{"code": bad}).must(t, http.StatusBadRequest)
		if r.ErrorCode(t) != "validation_failed" || r.ErrorFields(t)["code"] == "" {
			t.Fatalf("%#v: %s", bad, r.Body)
		}
	}
	e.call("POST", "/api/partners/"+s.PartnerID+"/codes", e.Key, map[string]any{}).must(t, http.StatusBadRequest)
	if n := e.count(t, `SELECT count(*) FROM partner_codes WHERE workspace_id = $1`, e.WS.Workspace.ID); n != 2 {
		t.Fatalf("%d codes stored, want 2", n)
	}

	// Another workspace may have the same code; its partners and codes are
	// not this workspace's (404).
	ws2, key2 := e.newWorkspace("Globex")
	p2 := e.programAs(t, key2, nil)
	pa2 := e.partnerAs(t, key2, str(p2, "id"), nil)
	e.call("POST", "/api/partners/"+str(pa2, "id")+"/codes", key2, map[string]any{"code": "maya20"}).must(t, http.StatusCreated)
	e.call("POST", "/api/partners/"+str(pa2, "id")+"/codes", e.Key, map[string]any{"code": "OTHER1"}).must(t, http.StatusNotFound)
	e.call("GET", "/api/partners/"+str(pa2, "id")+"/codes", e.Key, nil).must(t, http.StatusNotFound)
	e.call("DELETE", "/api/codes/"+str(c, "id"), key2, nil).must(t, http.StatusNotFound)
	_ = ws2

	// List: newest first, live and retired.
	var list struct {
		Data []map[string]any `json:"data"`
	}
	e.call("GET", "/api/partners/"+s.PartnerID+"/codes", e.Key, nil).must(t, http.StatusOK).JSON(t, &list)
	if len(list.Data) != 2 || str(list.Data[0], "code") != "maya-yt" || str(list.Data[1], "code") != "MAYA20" {
		t.Fatalf("list %v", list.Data)
	}
	e.call("DELETE", "/api/codes/"+str(c, "id"), e.Key, nil).must(t, http.StatusNoContent)
	e.call("DELETE", "/api/codes/"+str(c, "id"), e.Key, nil).must(t, http.StatusNoContent) // again: no error
	e.call("DELETE", "/api/codes/code_nope", e.Key, nil).must(t, http.StatusNotFound)
	e.call("GET", "/api/partners/"+s.PartnerID+"/codes", e.Key, nil).must(t, http.StatusOK).JSON(t, &list)
	if str(list.Data[1], "status") != "retired" || list.Data[1]["retiredAt"] == nil || str(list.Data[0], "status") != "live" {
		t.Fatalf("after retiring %v", list.Data)
	}
	// A retired code stays taken.
	e.call("POST", "/api/partners/"+s.PartnerID+"/codes", e.Key, map[string]any{"code": "maya20"}).must(t, http.StatusConflict)
}

func TestSaleAttributedByCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	code := e.code(t, s.PartnerID, "MAYA20")

	// No click: the code (in any case) attributes, and the sale records it.
	res := e.sale(t, e.Key, map[string]any{"customerExternalId": "cus-code", "couponCode": "maya20", "amountCents": 5000})
	if res["attributed"] != true || obj(res, "commission") == nil || str(obj(res, "commission"), "partnerId") != s.PartnerID {
		t.Fatalf("sale %v", res)
	}
	var sales struct {
		Data []map[string]any `json:"data"`
	}
	e.call("GET", "/api/sales?customerExternalId=cus-code", e.Key, nil).must(t, http.StatusOK).JSON(t, &sales)
	if len(sales.Data) != 1 || str(sales.Data[0], "codeId") != str(code, "id") || str(sales.Data[0], "couponCode") != "MAYA20" ||
		sales.Data[0]["clickId"] != nil {
		t.Fatalf("sales %v", sales.Data)
	}
	// The customer stays with the code's partner: a later sale with nothing attributes.
	later := e.sale(t, e.Key, map[string]any{"customerExternalId": "cus-code", "amountCents": 1000})
	if later["attributed"] != true {
		t.Fatalf("later %v", later)
	}

	// A click beats a code: the click's partner gets the sale, and the
	// other partner's code is not recorded with it.
	grace := e.partner(t, s.ProgramID, nil)
	e.code(t, str(grace, "id"), "GRACE10")
	res = e.sale(t, e.Key, map[string]any{"customerExternalId": "cus-click", "clickId": s.ClickID, "couponCode": "GRACE10"})
	if str(obj(res, "commission"), "partnerId") != s.PartnerID {
		t.Fatalf("click vs code: %v", res)
	}
	e.call("GET", "/api/sales?customerExternalId=cus-click", e.Key, nil).must(t, http.StatusOK).JSON(t, &sales)
	if sales.Data[0]["codeId"] != nil || str(sales.Data[0], "clickId") != s.ClickID {
		t.Fatalf("click vs code: %v", sales.Data)
	}
	// A click and its own partner's code: the code is recorded too.
	e.sale(t, e.Key, map[string]any{"customerExternalId": "cus-both", "clickId": s.ClickID, "couponCode": "MAYA20"})
	e.call("GET", "/api/sales?customerExternalId=cus-both", e.Key, nil).must(t, http.StatusOK).JSON(t, &sales)
	if str(sales.Data[0], "codeId") != str(code, "id") || str(sales.Data[0], "clickId") != s.ClickID {
		t.Fatalf("click and code: %v", sales.Data)
	}

	// The customer's first partner keeps the customer against a code.
	res = e.sale(t, e.Key, map[string]any{"customerExternalId": "cus-code", "couponCode": "GRACE10"})
	if res["attributed"] != true {
		t.Fatalf("%v", res)
	}
	e.call("GET", "/api/sales?customerExternalId=cus-code&partnerId="+str(grace, "id"), e.Key, nil).must(t, http.StatusOK).JSON(t, &sales)
	if len(sales.Data) != 0 {
		t.Fatalf("a code took the customer from their first partner: %v", sales.Data)
	}

	// Unknown, another workspace's, retired: no-ops, nothing stored.
	_, key2 := e.newWorkspace("Globex")
	p2 := e.programAs(t, key2, nil)
	pa2 := e.partnerAs(t, key2, str(p2, "id"), nil)
	e.call("POST", "/api/partners/"+str(pa2, "id")+"/codes", key2, map[string]any{"code": "GLOBEX5"}).must(t, http.StatusCreated)
	e.call("DELETE", "/api/codes/"+str(code, "id"), e.Key, nil).must(t, http.StatusNoContent)
	for _, c := range []string{"NOPE99", "GLOBEX5", "MAYA20", "maya20", "MAYA 20", strings.Repeat("x", 255)} {
		res := e.sale(t, e.Key, map[string]any{"customerExternalId": "cus-none-" + uniq("c"), "couponCode": c})
		if res["attributed"] != false || res["eventId"] != nil || res["commission"] != nil {
			t.Fatalf("%q attributed: %v", c, res)
		}
	}
	// Too long for any code: 400 like any other field.
	r := e.call("POST", "/api/track/sale", e.Key, map[string]any{"externalId": "x1", "customerExternalId": "c", "amountCents": 100,
		"couponCode": strings.Repeat("x", 256)}).must(t, http.StatusBadRequest)
	if r.ErrorFields(t)["couponCode"] == "" {
		t.Fatalf("%s", r.Body)
	}
	// The retired code's sales keep it.
	e.call("GET", "/api/sales?customerExternalId=cus-code&partnerId="+s.PartnerID, e.Key, nil).must(t, http.StatusOK).JSON(t, &sales)
	last := sales.Data[len(sales.Data)-1]
	if str(last, "couponCode") != "MAYA20" {
		t.Fatalf("retired code's sale %v", last)
	}
}

func TestCodeOfPartnerNotApprovedDoesNotAttribute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	e.code(t, s.PartnerID, "SUSP10")
	e.call("PATCH", "/api/partners/"+s.PartnerID, e.Key, map[string]any{"status": "suspended"}).must(t, http.StatusOK)
	res := e.sale(t, e.Key, map[string]any{"customerExternalId": "cus-s", "couponCode": "SUSP10"})
	if res["attributed"] != false {
		t.Fatalf("a suspended partner's code attributed: %v", res)
	}
	e.call("PATCH", "/api/partners/"+s.PartnerID, e.Key, map[string]any{"status": "approved"}).must(t, http.StatusOK)
	if res := e.sale(t, e.Key, map[string]any{"customerExternalId": "cus-s", "couponCode": "SUSP10"}); res["attributed"] != true {
		t.Fatalf("reinstated: %v", res)
	}
}

func TestLeadAttributedByCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	g := e.group(t, s.ProgramID, nil)
	e.reward(t, s.ProgramID, map[string]any{"groupId": g["id"], "event": "lead", "type": "flat", "amountCents": 500, "percent": nil})
	e.call("PATCH", "/api/partners/"+s.PartnerID, e.Key, map[string]any{"groupId": g["id"]}).must(t, http.StatusOK)
	code := e.code(t, s.PartnerID, "LEADME")

	res := e.call("POST", "/api/track/lead", e.Key, map[string]any{"externalId": "lead-1", "customerExternalId": "cus-lead",
		"couponCode": "leadme"}).must(t, http.StatusOK).Map(t)
	if res["attributed"] != true || str(obj(res, "commission"), "partnerId") != s.PartnerID {
		t.Fatalf("lead %v", res)
	}
	if n := e.count(t, `SELECT count(*) FROM events WHERE workspace_id = $1 AND kind = 'lead' AND code_id = $2`,
		e.WS.Workspace.ID, str(code, "id")); n != 1 {
		t.Fatalf("the lead does not record its code (%d)", n)
	}
	// The customer is attributed: a sale without click or code follows.
	if sale := e.sale(t, e.Key, map[string]any{"customerExternalId": "cus-lead"}); sale["attributed"] != true {
		t.Fatalf("sale after lead %v", sale)
	}
	// Without a customer id, the lead alone is attributed.
	res = e.call("POST", "/api/track/lead", e.Key, map[string]any{"externalId": "lead-2", "couponCode": "LEADME"}).must(t, http.StatusOK).Map(t)
	if res["attributed"] != true {
		t.Fatalf("lead without customer %v", res)
	}
	// Unknown code: no-op.
	res = e.call("POST", "/api/track/lead", e.Key, map[string]any{"externalId": "lead-3", "couponCode": "NOPE"}).must(t, http.StatusOK).Map(t)
	if res["attributed"] != false || res["eventId"] != nil {
		t.Fatalf("unknown code %v", res)
	}
}

func TestProgramDiscount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.program(t, map[string]any{"currency": "eur",
		"discount": map[string]any{"type": "percentage", "percent": 12.5, "duration": "repeating", "durationMonths": 3}})
	d := obj(p, "discount")
	if str(d, "type") != "percentage" || d["percent"] != 12.5 || str(d, "duration") != "repeating" || d["durationMonths"] != 3.0 ||
		d["amountCents"] != nil || p["partnersCreateCodes"] != false {
		t.Fatalf("created %v", p)
	}
	pid := str(p, "id")
	got := e.call("PATCH", "/api/programs/"+pid, e.Key, map[string]any{"partnersCreateCodes": true,
		"discount": map[string]any{"type": "flat", "amountCents": 500, "duration": "once"}}).must(t, http.StatusOK).Map(t)
	d = obj(got, "discount")
	if str(d, "type") != "flat" || d["amountCents"] != 500.0 || str(d, "currency") != "EUR" || d["percent"] != nil ||
		d["durationMonths"] != nil || got["partnersCreateCodes"] != true {
		t.Fatalf("patched %v", got)
	}
	// Other fields leave the discount as it is; null removes it.
	got = e.call("PATCH", "/api/programs/"+pid, e.Key, map[string]any{"cookieDays": 30}).must(t, http.StatusOK).Map(t)
	if obj(got, "discount") == nil {
		t.Fatalf("discount lost: %v", got)
	}
	got = e.call("PATCH", "/api/programs/"+pid, e.Key, map[string]any{"discount": nil}).must(t, http.StatusOK).Map(t)
	if got["discount"] != nil || got["partnersCreateCodes"] != true {
		t.Fatalf("discount not removed: %v", got)
	}
	e.call("GET", "/api/programs/"+pid, e.Key, nil).must(t, http.StatusOK)

	for _, tc := range []struct {
		discount any
		field    string
	}{
		{"20%", "discount"},
		{map[string]any{"percent": 10, "duration": "once"}, "discount.type"},
		{map[string]any{"type": "percentage", "duration": "once"}, "discount.percent"},
		{map[string]any{"type": "percentage", "percent": 0, "duration": "once"}, "discount.percent"},
		{map[string]any{"type": "percentage", "percent": 100.5, "duration": "once"}, "discount.percent"},
		{map[string]any{"type": "percentage", "percent": 10.125, "duration": "once"}, "discount.percent"},
		{map[string]any{"type": "percentage", "percent": 10, "amountCents": 5, "duration": "once"}, "discount.amountCents"},
		{map[string]any{"type": "flat", "duration": "once"}, "discount.amountCents"},
		{map[string]any{"type": "flat", "amountCents": 0, "duration": "once"}, "discount.amountCents"},
		{map[string]any{"type": "flat", "amountCents": 100, "percent": 5, "duration": "once"}, "discount.percent"},
		{map[string]any{"type": "bogo", "duration": "once"}, "discount.type"},
		{map[string]any{"type": "flat", "amountCents": 100}, "discount.duration"},
		{map[string]any{"type": "flat", "amountCents": 100, "duration": "weekly"}, "discount.duration"},
		{map[string]any{"type": "flat", "amountCents": 100, "duration": "repeating"}, "discount.durationMonths"},
		{map[string]any{"type": "flat", "amountCents": 100, "duration": "forever", "durationMonths": 2}, "discount.durationMonths"},
		{map[string]any{"type": "flat", "amountCents": 100, "duration": "repeating", "durationMonths": 0}, "discount.durationMonths"},
	} {
		r := e.call("PATCH", "/api/programs/"+pid, e.Key, map[string]any{"discount": tc.discount}).must(t, http.StatusBadRequest)
		if r.ErrorFields(t)[tc.field] == "" {
			t.Errorf("%v: want an error on %s: %s", tc.discount, tc.field, r.Body)
		}
	}
	r := e.call("PATCH", "/api/programs/"+pid, e.Key, map[string]any{"partnersCreateCodes": nil}).must(t, http.StatusBadRequest)
	if r.ErrorFields(t)["partnersCreateCodes"] == "" {
		t.Fatalf("%s", r.Body)
	}
	// Nothing half-written: a bad discount beside a good field changes neither.
	e.call("PATCH", "/api/programs/"+pid, e.Key, map[string]any{"cookieDays": 7, "discount": map[string]any{"type": "flat"}}).must(t, http.StatusBadRequest)
	if got := e.call("GET", "/api/programs/"+pid, e.Key, nil).must(t, http.StatusOK).Map(t); got["cookieDays"] != 30.0 {
		t.Fatalf("half written: %v", got)
	}
}

// The sale.created and lead.created webhook events say which code
// attributed them, and match the OpenAPI document.
func TestCodeInWebhookPayloads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	code := e.code(t, s.PartnerID, "HOOK10")
	e.sale(t, e.Key, map[string]any{"customerExternalId": "cus-hook", "couponCode": "hook10"})
	e.call("POST", "/api/track/lead", e.Key, map[string]any{"externalId": "lead-hook", "couponCode": "HOOK10"}).must(t, http.StatusOK)
	e.sale(t, e.Key, map[string]any{"customerExternalId": "cus-click", "clickId": s.ClickID})
	var events []store.WebhookEvent
	err := e.Store.DB().SelectContext(context.Background(), &events, `SELECT id, workspace_id, type, payload, created_at
		FROM webhook_events WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC LIMIT 20`, e.WS.Workspace.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, ev := range events {
		if err := specValidator(t).CheckEvent(ev.Type, ev.Payload); err != nil {
			t.Errorf("%s: %v\n%s", ev.Type, err, ev.Payload)
		}
		var env struct {
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(ev.Payload, &env); err != nil {
			t.Fatal(err)
		}
		switch ev.Type {
		case "sale.created", "lead.created":
			if obj(env.Data, "customer") != nil && str(obj(env.Data, "customer"), "externalId") == "cus-click" {
				if env.Data["codeId"] != nil || env.Data["couponCode"] != nil {
					t.Errorf("a click's sale names a code: %v", env.Data)
				}
				continue
			}
			if str(env.Data, "codeId") != str(code, "id") || str(env.Data, "couponCode") != "HOOK10" {
				t.Errorf("%s: %v", ev.Type, env.Data)
			}
			seen[ev.Type]++
		}
	}
	if seen["sale.created"] != 1 || seen["lead.created"] != 1 {
		t.Fatalf("events with the code: %v", seen)
	}
}

// The partner's link carries their code to the merchant's site: the
// redirect adds pref_code, the click API answers it; a retired code no
// longer (the link cache forgets it at once).
func TestLinkCarriesCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	location := func() *url.URL {
		t.Helper()
		resp, err := e.NoRedirect.Get(e.URL + "/r/" + s.Slug)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound {
			t.Fatalf("redirect %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		return u
	}
	clickCode := func() any {
		t.Helper()
		return e.call("POST", "/api/track/click", "", map[string]any{"slug": s.Slug}).must(t, http.StatusOK).Map(t)["code"]
	}
	if u := location(); u.Query().Has("pref_code") || clickCode() != nil {
		t.Fatalf("a partner without a code: %s", u)
	}
	old := e.code(t, s.PartnerID, "OLDER1")
	e.code(t, s.PartnerID, "NEWER2")
	if u := location(); u.Query().Get("pref_code") != "NEWER2" || u.Query().Get("pref_cid") == "" || clickCode() != "NEWER2" {
		t.Fatalf("with codes: %s", u)
	}
	var newer string
	if err := e.DB.Get(&newer, `SELECT id FROM partner_codes WHERE code = 'NEWER2'`); err != nil {
		t.Fatal(err)
	}
	e.call("DELETE", "/api/codes/"+newer, e.Key, nil).must(t, http.StatusNoContent)
	if u := location(); u.Query().Get("pref_code") != "OLDER1" {
		t.Fatalf("after retiring the newer: %s", u)
	}
	e.call("DELETE", "/api/codes/"+str(old, "id"), e.Key, nil).must(t, http.StatusNoContent)
	if u := location(); u.Query().Has("pref_code") || clickCode() != nil {
		t.Fatalf("after retiring both: %s", u)
	}
}

// A flat discount is in the program's currency: changing the currency is a
// new coupon; a percentage keeps its coupon.
func TestCurrencyChangeIsANewCouponForFlatDiscounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	version := func(id string) (int, bool) {
		t.Helper()
		var row struct {
			V      int     `db:"discount_version"`
			Coupon *string `db:"stripe_coupon_id"`
		}
		if err := e.DB.Get(&row, `SELECT discount_version, stripe_coupon_id FROM programs WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		return row.V, row.Coupon != nil
	}
	for _, tc := range []struct {
		discount map[string]any
		bumped   bool
	}{
		{map[string]any{"type": "flat", "amountCents": 500, "duration": "once"}, true},
		{map[string]any{"type": "percentage", "percent": 10, "duration": "once"}, false},
	} {
		id := str(e.program(t, map[string]any{"currency": "usd"}), "id")
		e.call("PATCH", "/api/programs/"+id, e.Key, map[string]any{"discount": tc.discount}).must(t, http.StatusOK)
		if _, err := e.DB.Exec(`UPDATE programs SET stripe_coupon_id = 'co_1' WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		before, _ := version(id)
		got := e.call("PATCH", "/api/programs/"+id, e.Key, map[string]any{"currency": "eur"}).must(t, http.StatusOK).Map(t)
		after, coupon := version(id)
		if (after == before+1) != tc.bumped || coupon == tc.bumped {
			t.Errorf("%v: version %d → %d, coupon kept %v", tc.discount, before, after, coupon)
		}
		if tc.bumped && str(obj(got, "discount"), "currency") != "EUR" {
			t.Errorf("discount %v", got)
		}
	}
}
