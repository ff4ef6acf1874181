package ids

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewSortsByTime(t *testing.T) {
	base := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var made []string
	for i := range 2000 {
		made = append(made, "cm_"+At(base.Add(time.Duration(i)*time.Millisecond)))
	}
	if !slices.IsSorted(made) {
		t.Fatal("ids made one millisecond apart do not sort by time")
	}
	// Across the whole range of the encoding's dates, too.
	early, late := At(time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC)), At(time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC))
	if !(early < At(base) && At(base) < late) {
		t.Errorf("%s, %s, %s are not in time order", early, At(base), late)
	}
}

func TestNewShape(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		id := New(Commission)
		if !HasPrefix(id, Commission) || len(id) != len("cm_")+26 || strings.Trim(id[3:], "0123456789abcdefghjkmnpqrstvwxyz") != "" {
			t.Fatalf("id %q has not the shape cm_ + 26 base32 characters", id)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
	}
}

// timeOf decodes the creation time of an id made by New or At.
func timeOf(id string) (time.Time, bool) {
	i := strings.IndexByte(id, '_')
	if i < 0 || len(id)-i-1 != 26 {
		return time.Time{}, false
	}
	b, err := enc.DecodeString(id[i+1:])
	if err != nil || len(b) != 16 {
		return time.Time{}, false
	}
	var ms [8]byte
	copy(ms[2:], b[:6])
	return time.UnixMilli(int64(binary.BigEndian.Uint64(ms[:]))), true
}

func TestAtEncodesTime(t *testing.T) {
	at := time.Date(2026, 11, 25, 18, 30, 1, 234_000_000, time.UTC)
	got, ok := timeOf("sale_" + At(at))
	if !ok || !got.Equal(at) {
		t.Errorf("timeOf = %v, %v; want %v", got, ok, at)
	}
	for _, bad := range []string{"", "sale_", "sale_short", "nounderscore", "sale_" + strings.Repeat("u", 26)} {
		if _, ok := timeOf(bad); ok {
			t.Errorf("timeOf(%q) ok, want not an id", bad)
		}
	}
}

func TestTimeOf(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	id := Click + "_" + At(now)
	if got, ok := TimeOf(id, Click); !ok || !got.Equal(now) {
		t.Fatalf("TimeOf(%s) = %v %v, want %v", id, got, ok, now)
	}
	for _, bad := range []string{"c_", "c_!!", "cm_" + At(now), "c_" + At(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)),
		"c_" + At(now.Add(48*time.Hour))} {
		if _, ok := TimeOf(bad, Click); ok {
			t.Errorf("TimeOf(%q) read a time", bad)
		}
	}
}
