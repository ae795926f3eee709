package main

// TestImage builds barge's container image with buildah and runs barge from
// it, as root on the test machine (CI installs buildah; see .ci/run).
//
// What it proves:
//   - barge builds static (CGO_ENABLED=0, -trimpath, -ldflags "-s -w", the
//     Dockerfile's flags): the binary has no ELF interpreter, so it runs in
//     an image that holds nothing else.
//   - the Dockerfile's final stage (FROM scratch), built by buildah from the
//     layout its build stage makes (binary, CA certificates, passwd and
//     group with nonroot 65532, the config, an empty state directory), with
//     `COPY --from=build /X` read as `COPY X`, gives an image whose
//     config has user 65532, entrypoint /usr/local/bin/barge, STOPSIGNAL
//     SIGTERM, 24224/tcp and 24224/udp exposed and /var/lib/barge a volume,
//     and whose /var/lib/barge is owned by 65532 and binary by root.
//   - barge runs from the image's own filesystem (buildah mount, chrooted
//     into it) as the image's user, with the image's entrypoint, command,
//     working directory and environment: the forward port answers, acked
//     records are in a chunk under /var/lib/barge owned by 65532, SIGTERM
//     (the image's stop signal) ends it with exit status 0, and the records
//     are then in its output under /var/lib/barge.
//
// What it does not prove:
//   - that the multi-stage Dockerfile itself builds (it needs golang:1.26,
//     which cannot be pulled here): its build stage's shell commands are
//     not run, only mirrored by this test;
//   - anything of a container runtime: no namespaces (barge shares the
//     host's network, so it binds 127.0.0.1 and its config differs from the
//     image's default in bind and port), no cgroups, no capabilities
//     dropped, no seccomp, no volume mounted over /var/lib/barge, no /proc
//     or /dev in the root; nor Docker's or Kubernetes' handling of the
//     image's config (it is checked as written, not as obeyed).

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
)

// The user of the image, as distroless's nonroot.
const (
	imageUID = 65532
	imageGID = 65532
)

// The passwd and group files of the image: Dockerfile's build stage writes
// the same lines.
var (
	imagePasswd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	imageGroup = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
)

func TestImage(t *testing.T) {
	buildah, err := exec.LookPath("buildah")
	if err != nil {
		t.Fatalf("buildah is not installed; TestImage builds and runs the container image with it: install it (apt-get install buildah; .ci/run does): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("TestImage must run as root: buildah's vfs storage and the chroot barge runs in need it (CI runs as root)")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	containerfile := finalStage(t, repo)
	tmp := t.TempDir()
	start := time.Now()

	// The static binary, built as the Dockerfile builds it.
	bin := filepath.Join(tmp, "barge")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "github.com/barge-dev/barge/cmd/barge")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build static barge: %v\n%s", err, out)
	}
	checkStatic(t, bin)
	t.Logf("static build: %v", time.Since(start).Round(time.Millisecond))

	// The build context of the final stage: what the Dockerfile's build
	// stage lays out under /rootfs and /state.
	ctxDir := filepath.Join(tmp, "context")
	rootfs := filepath.Join(ctxDir, "rootfs")
	for _, d := range []string{"etc/ssl/certs", "etc/barge", "usr/local/bin", "var/lib", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(rootfs, "tmp"), 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(ctxDir, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	certs, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatalf("the host's CA certificates (apt-get install ca-certificates): %v", err)
	}
	writeFile(t, filepath.Join(rootfs, "etc/ssl/certs/ca-certificates.crt"), certs, 0o644)
	writeFile(t, filepath.Join(rootfs, "etc/passwd"), []byte(imagePasswd), 0o644)
	writeFile(t, filepath.Join(rootfs, "etc/group"), []byte(imageGroup), 0o644)
	writeFile(t, filepath.Join(rootfs, "etc/barge/barge.conf"), []byte(imageTestConfig(t, repo)), 0o644)
	binData, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(rootfs, "usr/local/bin/barge"), binData, 0o755)

	// buildah with its storage under tmp (removed with it), vfs needing no
	// kernel overlay, chroot isolation needing no runtime.
	bh := func(args ...string) string {
		t.Helper()
		full := append([]string{"--root", filepath.Join(tmp, "storage"), "--runroot", filepath.Join(tmp, "run"), "--storage-driver", "vfs"}, args...)
		cmd := exec.Command(buildah, full...)
		cmd.Env = append(os.Environ(), "BUILDAH_ISOLATION=chroot", "TMPDIR="+tmp)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	const image = "localhost/barge-image-test:latest"
	cf := filepath.Join(t.TempDir(), "Containerfile")
	if err := os.WriteFile(cf, []byte(containerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	bh("bud", "--isolation", "chroot", "--pull=never", "-f", cf, "-t", image, ctxDir)
	t.Cleanup(func() { bh("rmi", "--force", image) })
	t.Logf("image built: %v", time.Since(start).Round(time.Millisecond))

	var info struct {
		Manifest string
		OCIv1    struct {
			Config struct {
				User         string
				Env          []string
				Entrypoint   []string
				Cmd          []string
				WorkingDir   string
				ExposedPorts map[string]struct{}
				Volumes      map[string]struct{}
				StopSignal   string
			}
		}
	}
	if err := json.Unmarshal([]byte(bh("inspect", "--type", "image", image)), &info); err != nil {
		t.Fatalf("buildah inspect: %v", err)
	}
	cfg := info.OCIv1.Config
	if cfg.User != "65532:65532" && cfg.User != "65532" && cfg.User != "nonroot" {
		t.Errorf("image user %q, want 65532 (nonroot)", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/usr/local/bin/barge"}) {
		t.Errorf("image entrypoint %q, want [/usr/local/bin/barge]", cfg.Entrypoint)
	}
	if !slices.Equal(cfg.Cmd, []string{"run", "-c", "/etc/barge/barge.conf"}) {
		t.Errorf("image command %q, want [run -c /etc/barge/barge.conf]", cfg.Cmd)
	}
	if cfg.StopSignal != "SIGTERM" {
		t.Errorf("image stop signal %q, want SIGTERM", cfg.StopSignal)
	}
	for _, p := range []string{"24224/tcp", "24224/udp"} {
		if _, ok := cfg.ExposedPorts[p]; !ok {
			t.Errorf("image does not expose %s: %v", p, cfg.ExposedPorts)
		}
	}
	if _, ok := cfg.Volumes["/var/lib/barge"]; !ok {
		t.Errorf("/var/lib/barge is not a volume of the image: %v", cfg.Volumes)
	}
	var manifest struct{ Layers []struct{ Size int64 } }
	if err := json.Unmarshal([]byte(info.Manifest), &manifest); err != nil {
		t.Fatalf("image manifest: %v", err)
	}
	var size int64
	for _, l := range manifest.Layers {
		size += l.Size
	}
	t.Logf("image size: %.1f MiB in %d layers (uncompressed; the binary is %.1f MiB)", float64(size)/(1<<20), len(manifest.Layers), float64(len(binData))/(1<<20))
	if t.Failed() {
		t.FailNow()
	}

	// The image's filesystem, from a container of it.
	ctr := bh("from", "--pull=never", image)
	t.Cleanup(func() { bh("rm", ctr) })
	root := bh("mount", ctr)
	t.Cleanup(func() { bh("umount", ctr) })
	checkOwner(t, filepath.Join(root, "var/lib/barge"), imageUID, imageGID)
	checkOwner(t, filepath.Join(root, "usr/local/bin/barge"), 0, 0)
	uid, gid := imageUser(t, root, cfg.User)
	if uid != imageUID || gid != imageGID {
		t.Fatalf("image user %q is %d:%d, want %d:%d", cfg.User, uid, gid, imageUID, imageGID)
	}

	// barge as the image would run it, chrooted into the image as its user.
	args := append(slices.Clone(cfg.Entrypoint), cfg.Cmd...)
	run := exec.Command(args[0], args[1:]...)
	run.Env = append([]string{}, cfg.Env...) // the image's, not the test's
	run.Dir = cfg.WorkingDir
	if run.Dir == "" {
		run.Dir = "/"
	}
	log := &procLog{changed: make(chan struct{}, 1)}
	run.Stdout, run.Stderr = log, log
	run.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     root,
		Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}},
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := run.Start(); err != nil {
		t.Fatalf("run barge in the image: %v", err)
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			run.Process.Kill()
			run.Wait()
		}
		if t.Failed() {
			t.Logf("barge's log:\n%s", log.String())
		}
	})
	m := log.wait(t, 10*time.Second, regexp.MustCompile(`msg=listening .*\bport=(\d+)`))
	addr := net.JoinHostPort("127.0.0.1", m[1])
	t.Logf("barge runs from the image as %d:%d, forward input on %s: %v", uid, gid, addr, time.Since(start).Round(time.Millisecond))

	const n = 20
	bargetest.SendAcked(t, addr, "image.test", 0, n)
	// Acked means durable: the records are in a chunk in the image's
	// /var/lib/barge, written by the image's user.
	chunks := waitChunks(t, filepath.Join(root, "var/lib/barge/buffer"), 5*time.Second)
	for _, c := range chunks {
		checkOwner(t, c, imageUID, imageGID)
	}
	t.Logf("acked %d records; chunks: %q", n, relPaths(root, chunks))

	if err := run.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(30*time.Second, func() { run.Process.Kill() })
	err = run.Wait()
	timer.Stop()
	exited = true
	if err != nil {
		t.Fatalf("barge after SIGTERM: %v, want exit status 0", err)
	}
	recs := bargetest.ReadRecords(t, filepath.Join(root, "var/lib/barge/out/image.test"))
	bargetest.CheckSeqs(t, recs, n)
	t.Logf("SIGTERM: exit status 0, %d records in /var/lib/barge/out; total %v", len(recs), time.Since(start).Round(time.Millisecond))
}

// finalStage returns the Dockerfile's final stage as a Containerfile that
// builds from a context laid out as its build stage lays out /rootfs and
// /state (`COPY --from=build /X` becomes `COPY X`), and checks that the
// Dockerfile's build stage writes what this test writes in that context.
func finalStage(t *testing.T, repo string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	docker := string(b)
	var final []string
	for _, l := range strings.Split(docker, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "FROM "):
			final = []string{l}
		default:
			final = append(final, l)
		}
	}
	if final[0] != "FROM scratch" {
		t.Fatalf("the Dockerfile's final stage starts %q, want FROM scratch", final[0])
	}
	fromBuild := regexp.MustCompile(`^COPY --from=build ((?:--\S+ )*)/`)
	for i, l := range final {
		final[i] = fromBuild.ReplaceAllString(l, "COPY $1")
	}
	// What the build stage writes, as this test writes it.
	want := []string{
		`CGO_ENABLED=0 go build -trimpath -ldflags "-s -w"`,
		`cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/`,
		imageConfigSed,
	}
	for _, l := range strings.Split(strings.TrimSpace(imagePasswd+imageGroup), "\n") {
		want = append(want, "'"+l+"'")
	}
	for _, w := range want {
		if !strings.Contains(docker, w) {
			t.Errorf("the Dockerfile's build stage has no %s, which this test mirrors", w)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return strings.Join(final, "\n") + "\n"
}

// imageConfigSed makes the image's config from the quickstart in the
// Dockerfile; imageTestConfig does the same in Go.
const imageConfigSed = `sed -e 's/^\( *bind\) 127\.0\.0\.1$/\1 0.0.0.0/' -e 's#\./barge-\([a-z]*\)#/var/lib/barge/\1#g'`

// imageTestConfig is the image's default config for the test: the
// quickstart with the Dockerfile's substitutions (bind 0.0.0.0; ./barge-X
// becomes /var/lib/barge/X), then bound to 127.0.0.1 on a port the kernel
// picks, since barge here shares the host's network.
func imageTestConfig(t *testing.T, repo string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "examples/quickstart.conf"))
	if err != nil {
		t.Fatal(err)
	}
	c := regexp.MustCompile(`(?m)^( *bind) 127\.0\.0\.1$`).ReplaceAllString(string(b), "$1 0.0.0.0")
	c = regexp.MustCompile(`\./barge-([a-z]*)`).ReplaceAllString(c, "/var/lib/barge/$1")
	for _, want := range []string{"bind 0.0.0.0\n", "path /var/lib/barge/out/${tag}/\n", "path /var/lib/barge/buffer/quickstart\n", "port 24224\n"} {
		if !strings.Contains(c, want) {
			t.Fatalf("the quickstart made for the image has no %q:\n%s", want, c)
		}
	}
	c = strings.Replace(c, "bind 0.0.0.0\n", "bind 127.0.0.1\n", 1)
	return strings.Replace(c, "port 24224\n", "port 0\n", 1)
}

// checkStatic fails unless bin is an ELF executable without an interpreter
// (a dynamic loader the image does not have).
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s is dynamically linked (has PT_INTERP)", bin)
		}
	}
	if f.Section(".symtab") != nil {
		t.Errorf("%s has a symbol table: not built with -ldflags \"-s -w\"", bin)
	}
}

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

func checkOwner(t *testing.T, path string, uid, gid uint32) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != uid || st.Gid != gid {
		t.Errorf("%s is owned by %d:%d, want %d:%d", path, st.Uid, st.Gid, uid, gid)
	}
}

// imageUser resolves the image's USER (name or uid, optionally :group) to
// ids with the image's own /etc/passwd and /etc/group, as a runtime does.
func imageUser(t *testing.T, root, user string) (uid, gid uint32) {
	t.Helper()
	lookup := func(file, name string, field int) (uint32, bool) {
		b, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Split(l, ":")
			if len(f) > field && (f[0] == name || f[2] == name) {
				id, err := strconv.ParseUint(f[field], 10, 32)
				return uint32(id), err == nil
			}
		}
		return 0, false
	}
	u, g, hasGroup := strings.Cut(user, ":")
	uid, ok := lookup("etc/passwd", u, 2)
	if !ok {
		t.Fatalf("image user %q is not in the image's /etc/passwd", user)
	}
	gid, _ = lookup("etc/passwd", u, 3)
	if hasGroup {
		if gid, ok = lookup("etc/group", g, 2); !ok {
			t.Fatalf("image group %q is not in the image's /etc/group", g)
		}
	}
	return uid, gid
}

// waitChunks polls dir until it holds a non-empty chunk file (*.chunk), and
// returns them all.
func waitChunks(t *testing.T, dir string, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var files []string
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return nil
				}
				return err
			}
			if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 && strings.HasSuffix(path, ".chunk") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(files) > 0 {
			return files
		}
		if time.Now().After(deadline) {
			t.Fatalf("no chunk under %s within %v after the acks", dir, timeout)
		}
		<-tick.C
	}
}

func relPaths(root string, paths []string) []string {
	var rel []string
	for _, p := range paths {
		r, _ := filepath.Rel(root, p)
		rel = append(rel, "/"+r)
	}
	return rel
}

// procLog collects a process's output and tells a waiter when it grew.
type procLog struct {
	mu      sync.Mutex
	text    strings.Builder
	changed chan struct{}
}

func (l *procLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.text.Write(p)
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *procLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.String()
}

// wait blocks until the log matches re and returns the match's groups,
// failing the test after timeout.
func (l *procLog) wait(t *testing.T, timeout time.Duration, re *regexp.Regexp) []string {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		if m := re.FindStringSubmatch(l.String()); m != nil {
			return m
		}
		select {
		case <-l.changed:
		case <-timer.C:
			t.Fatalf("barge's log has no %q within %v", re, timeout)
		}
	}
}
