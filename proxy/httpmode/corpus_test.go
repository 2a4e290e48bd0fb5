package httpmode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"appl/proxy/config"
)

// TestCompileSeedsAndCorpus compiles the http parts of the seed fixtures (they must all
// compile) and reports what the real-world corpus uses that the engine refuses.
func TestCompileSeedsAndCorpus(t *testing.T) {
	seeds, _ := filepath.Glob("../config/testdata/seeds/*.cfg")
	if len(seeds) == 0 {
		t.Skip("no seed fixtures")
	}
	for _, f := range seeds {
		cfg, err := config.Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := Compile(cfg, Options{}); err != nil {
			t.Errorf("seed %s does not compile: %v", filepath.Base(f), err)
		}
	}
	dir := os.Getenv("APPL_CORPUS")
	if dir == "" {
		return
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.cfg"))
	for _, f := range files {
		cfg, err := config.Load(f)
		if err != nil {
			t.Logf("%s: config: %v", filepath.Base(f), strings.SplitN(err.Error(), "\n", 2)[0])
			continue
		}
		if _, err := Compile(cfg, Options{}); err != nil {
			t.Logf("%s: httpmode: %v", filepath.Base(f), err)
		} else {
			t.Logf("%s: ok", filepath.Base(f))
		}
	}
}
