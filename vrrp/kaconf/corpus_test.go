package kaconf

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"appl/appliance"
)

var (
	instRE  = regexp.MustCompile(`(?m)^\s*vrrp_instance\s+(\S+)`)
	groupRE = regexp.MustCompile(`(?m)^\s*vrrp_sync_group\s`)
	vsRE    = regexp.MustCompile(`(?m)^\s*virtual_server\s`)
)

const corpusDir = "../../../shared/corpus/keepalived"

// decodes appends the translation to a minimal appl configuration and runs the real
// decoder on it, as appld -c would.
func decodes(t *testing.T, cfg string) error {
	t.Helper()
	_, err := appliance.Decode("migrated.cfg", []byte("global\n"+cfg))
	return err
}

// refused lists corpus files whose translation the decoder refuses on purpose, and why.
var refused = map[string]string{}

func TestCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.conf"))
	if err != nil || len(files) == 0 {
		t.Skipf("no keepalived corpus at %s (%v)", corpusDir, err)
	}
	sort.Strings(files)
	instances := 0
	for _, f := range files {
		base := filepath.Base(f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Translate(base, data)
		if err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		instances += res.Instances
		// Every vrrp_instance / vrrp_sync_group of the input becomes a section of the
		// output, and every LVS virtual_server is reported.
		if want := len(instRE.FindAllString(string(data), -1)); res.Instances != want {
			t.Errorf("%s: %d instances translated, %d in the file", base, res.Instances, want)
		}
		if want := len(groupRE.FindAllString(string(data), -1)); res.Groups != want {
			t.Errorf("%s: %d groups translated, %d in the file", base, res.Groups, want)
		}
		if want := len(vsRE.FindAllString(string(data), -1)); strings.Count(res.Config, "# not migrated: line ") < want {
			t.Errorf("%s: fewer notes than the %d virtual_server blocks", base, want)
		}
		for _, m := range instRE.FindAllStringSubmatch(string(data), -1) {
			if !strings.Contains(res.Config, "\nvrrp "+m[1]+"\n") {
				t.Errorf("%s: instance %s missing from the output", base, m[1])
			}
		}
		err = decodes(t, res.Config)
		why, isRefused := refused[base]
		switch {
		case err != nil && !isRefused:
			t.Errorf("%s: translation does not decode: %v\n%s", base, err, res.Config)
		case err == nil && isRefused:
			t.Errorf("%s: listed as refused (%s) but decodes", base, why)
		case err != nil && !strings.Contains(err.Error(), why):
			t.Errorf("%s: refused for another reason than %q: %v", base, why, err)
		}
		again, _ := Translate(base, data)
		if again.Config != res.Config {
			t.Errorf("%s: output not deterministic", base)
		}
	}
	if instances < 20 {
		t.Errorf("only %d vrrp instances translated over the corpus", instances)
	}
	t.Logf("%d files, %d instances", len(files), instances)
}
