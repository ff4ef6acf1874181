package web

import "testing"

func TestIsBot(t *testing.T) {
	for _, tc := range []struct {
		ua   string
		want bool
	}{
		{"", true},
		{"curl/8.5.0", true},
		{"Wget/1.21.3", true},
		{"python-requests/2.31.0", true},
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true},
		{"Mozilla/5.0 (compatible; bingbot/2.0)", true},
		{"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", true},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36", true},
		{"Java/17.0.2", true},
		{"Slackbot-LinkExpanding 1.0", true},
		{"UptimeRobot/2.0; Monitor", true},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", false},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", false},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", false},
	} {
		if got := isBot(tc.ua); got != tc.want {
			t.Errorf("isBot(%q) = %v, want %v", tc.ua, got, tc.want)
		}
	}
}

func BenchmarkIsBot(b *testing.B) {
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	for b.Loop() {
		isBot(ua)
	}
}
