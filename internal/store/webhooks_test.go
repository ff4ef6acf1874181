package store

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The benchmark (cmd/partli-bench/pgbench.go) runs RecordCommissionsSQL
// under pgbench, binding its parameters by number, each statement on one
// line; the hot path prepares recordEventsSQL next to it. Writing the
// deliveries with the events must not change their parameters nor bring in
// an SQL comment.
func TestOutboxStatementsKeepTheirParameters(t *testing.T) {
	param := regexp.MustCompile(`\$([0-9]+)`)
	for _, c := range []struct {
		name   string
		query  string
		params int
	}{
		{"RecordCommissionsSQL", RecordCommissionsSQL, 27},
		{"recordEventsSQL", recordEventsSQL, 5},
	} {
		if strings.Contains(c.query, "--") {
			t.Errorf("%s holds an SQL comment", c.name)
		}
		seen := map[int]bool{}
		for _, m := range param.FindAllStringSubmatch(c.query, -1) {
			n, _ := strconv.Atoi(m[1])
			seen[n] = true
		}
		for n := 1; n <= c.params; n++ {
			if !seen[n] {
				t.Errorf("%s lacks $%d", c.name, n)
			}
		}
		if len(seen) != c.params {
			t.Errorf("%s has %d parameters, want %d", c.name, len(seen), c.params)
		}
		// Written dispatched, with the deliveries, in the same statement.
		for _, want := range []string{"dispatched_at", "INSERT INTO webhook_deliveries", "ON CONFLICT (workspace_id, endpoint_id, event_id) DO NOTHING"} {
			if !strings.Contains(c.query, want) {
				t.Errorf("%s lacks %q", c.name, want)
			}
		}
	}
}

// A new commission's mail is written by the statement that writes the
// commission (no statement more on the hot path), reading the partner's
// preference so that a partner who turned the mail off or chose the digest
// gets no row.
func TestCommissionStatementsWriteTheMail(t *testing.T) {
	for name, q := range map[string]string{"RecordCommissionsSQL": RecordCommissionsSQL, "commissionMailSQL": commissionMailSQL} {
		for _, want := range []string{"INSERT INTO mail_outbox", "FROM c", "mail_preferences", "'" + MailCommissionCreated + "'"} {
			if !strings.Contains(q, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
		if strings.Contains(q, "--") {
			t.Errorf("%s holds an SQL comment", name)
		}
	}
}
