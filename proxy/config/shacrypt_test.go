package config

import "testing"

func TestSHACrypt(t *testing.T) {
	tests := []struct {
		pw, hash string
		match    bool
	}{
		// Produced by `openssl passwd -6|-5 -salt S PASSWORD`.
		{"Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", true},
		{"Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", true},
		{"a much longer password than sixty-four bytes to exercise the block path, really long indeed",
			"$6$toolongsaltstrin$oPCsYOZCyzIBEP1S2EnVVd/97A6Gl81/0EO9QlNYPTrOwmQD7nTDa.PqaklHGeD41mTk0FRSadwuTFKt.3EMM1", true},
		// From Drepper's specification (explicit rounds, salt cut to 16 bytes).
		{"Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.", true},
		{"Hello world?", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", false},
	}
	for _, tc := range tests {
		got, ok := shaCrypt(tc.pw, tc.hash)
		if !ok || got != tc.match {
			t.Errorf("shaCrypt(%q, %q) = %v, %v; want %v", tc.pw, tc.hash, got, ok, tc.match)
		}
	}
	if _, ok := shaCrypt("x", "$1$abc$def"); ok {
		t.Errorf("MD5 crypt must be reported as not handled")
	}
	ul := &Userlist{Users: []User{{Name: "a", Password: tests[0].hash}}}
	if !ul.Authenticate("a", "Hello world!") || ul.Authenticate("a", "nope") || ul.Authenticate("b", "Hello world!") {
		t.Errorf("Authenticate with a $6$ user is wrong")
	}
}
