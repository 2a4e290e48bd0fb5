package userlist

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Test vectors of Drepper's specification "Unix crypt using SHA-256 and SHA-512".
var specVectors = []struct{ setting, pw, want string }{
	{"$5$saltstring", "Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
	{"$5$rounds=10000$saltstringsaltstring", "Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
	{"$5$rounds=5000$toolongsaltstring", "This is just a test", "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"},
	{"$5$rounds=1400$anotherlongsaltstring", "a very much longer text to encrypt.  This one even stretches over morethan one line.", "$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1"},
	{"$5$rounds=77777$short", "we have a short salt string but not a short password", "$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/"},
	{"$5$rounds=123456$asaltof16chars..", "a short string", "$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD"},
	{"$5$rounds=10$roundstoolow", "the minimum number is still observed", "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC"},
	{"$6$saltstring", "Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
	{"$6$rounds=10000$saltstringsaltstring", "Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
	{"$6$rounds=5000$toolongsaltstring", "This is just a test", "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"},
	{"$6$rounds=1400$anotherlongsaltstring", "a very much longer text to encrypt.  This one even stretches over morethan one line.", "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"},
	{"$6$rounds=77777$short", "we have a short salt string but not a short password", "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0"},
	{"$6$rounds=123456$asaltof16chars..", "a short string", "$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1"},
	{"$6$rounds=10$roundstoolow", "the minimum number is still observed", "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."},
}

func TestCryptSpecVectors(t *testing.T) {
	for _, v := range specVectors {
		got, ok := Crypt(v.pw, v.setting)
		if !ok || got != v.want {
			t.Errorf("Crypt(%q, %q) = %q, %v; want %q", v.pw, v.setting, got, ok, v.want)
		}
		if !Check(v.pw, v.want, false) {
			t.Errorf("Check(%q, %q) = false", v.pw, v.want)
		}
		if Check(v.pw+"x", v.want, false) {
			t.Errorf("Check accepts a wrong password for %q", v.want)
		}
	}
}

// TestCryptAgainstOpenSSL compares with `openssl passwd -5|-6 -salt S P` for passwords
// and salts around the digest block sizes.
func TestCryptAgainstOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	pws := []string{"a", "AdminPasswd", strings.Repeat("p", 31), strings.Repeat("q", 32), strings.Repeat("r", 33),
		strings.Repeat("s", 64), strings.Repeat("t", 65), "unicode é 密码", "sp ace:colon"}
	salts := []string{"x", "saltstring", "0123456789abcdef", "./AZaz09"}
	n := 0
	for i, pw := range pws {
		salt := salts[i%len(salts)]
		for _, alg := range []string{"5", "6"} {
			out, err := exec.Command("openssl", "passwd", "-"+alg, "-salt", salt, pw).Output()
			if err != nil {
				t.Fatalf("openssl passwd -%s: %v", alg, err)
			}
			want := strings.TrimSpace(string(out))
			got, ok := Crypt(pw, "$"+alg+"$"+salt)
			if !ok || got != want {
				t.Errorf("Crypt(%q, $%s$%s) = %q; openssl says %q", pw, alg, salt, got, want)
			}
			if !Check(pw, want, false) {
				t.Errorf("Check(%q, %q) = false", pw, want)
			}
			n++
		}
	}
	if n != 2*len(pws) {
		t.Fatalf("compared %d hashes", n)
	}
}

func TestCheckKinds(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h := string(bc) // $2a$
	for _, stored := range []string{h, "$2b$" + h[4:], "$2y$" + h[4:]} {
		if KindOf(stored) != KindBcrypt {
			t.Errorf("KindOf(%q) = %v", stored, KindOf(stored))
		}
		if !Check("s3cret", stored, false) || Check("s3cret!", stored, false) {
			t.Errorf("bcrypt check wrong for %s", stored[:4])
		}
	}
	if !Check("clear", "clear", true) || Check("clear", "clear2", true) || Check("", "x", true) {
		t.Error("insecure-password comparison wrong")
	}
	for _, h := range []string{"$1$abc$def", "plain", "$y$j9T$abc$def", "", "$6$rounds=abc$x$y", "$5$rounds=5000"} {
		if Check("", h, false) || Check("def", h, false) {
			t.Errorf("Check matched unsupported hash %q", h)
		}
	}
	if KindName("$6$salt$hash") != "$6$..." || KindName("x") != "?" {
		t.Errorf("KindName: %q %q", KindName("$6$salt$hash"), KindName("x"))
	}
}

func ExampleCrypt() {
	h, _ := Crypt("Hello world!", "$6$saltstring")
	fmt.Println(h)
	// Output: $6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1
}

func BenchmarkCheckSHA512(b *testing.B) {
	h, _ := Crypt("AdminPasswd", "$6$saltsaltsalt")
	for b.Loop() {
		if !Check("AdminPasswd", h, false) {
			b.Fatal("mismatch")
		}
	}
}
