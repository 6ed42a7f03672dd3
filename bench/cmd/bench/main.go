// Command bench is `make bench`: postwire's session client against
// net/smtp and go-smtp, and postwire's dot-stuffers against net/textproto's
// DotWriter and memmove, all measured in one run. See ../../README.md for
// the cases and how to read the lines it prints:
//
//	bench: <case> <client> msgs_per_s=<f> rtts_per_msg=<f> allocs_per_msg=<f>
//	ratio: <case> postwire/<peer>=<f>
//	bench: cpu-<target>-1rcpt <client> cpu_us_per_msg=<f>
//	ratio: cpu-<target>-1rcpt <postwire client>/smtp-source=<f>
//	bench: dotstuff-<case> <impl> MBps=<f>
//	ratio: dotstuff-<case> <impl>/<baseline>=<f>
//
// Lines starting with "note:" say what was skipped and why; lines starting
// with "#" describe the run. The exit status is 1 if any case failed.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/postwire/postwire/bench"
)

type config struct {
	rounds     int
	round      time.Duration
	delayRound time.Duration
	delay      time.Duration
	batch      int
	size       int
	stuffMiB   int
	cpuMsgs    int
	only       string
}

func main() {
	sinkChild := flag.Bool("sink-child", false, "internal: serve the loopback case's sink and print its address")
	var cfg config
	flag.IntVar(&cfg.rounds, "rounds", 15, "rounds per case; every figure is the median over them")
	flag.DurationVar(&cfg.round, "round", 100*time.Millisecond, "how long each client sends per round, local cases")
	flag.DurationVar(&cfg.delayRound, "delay-round", 300*time.Millisecond, "how long each client sends per round, delay case")
	flag.DurationVar(&cfg.delay, "delay", 5*time.Millisecond, "the delay case's one-way delay (a round trip waits twice this)")
	flag.IntVar(&cfg.batch, "batch", 32, "messages per SendBatch call")
	flag.IntVar(&cfg.size, "size", 1<<10, "message size in bytes")
	flag.IntVar(&cfg.stuffMiB, "stuff-mib", 64, "size of the out-of-cache dot-stuffing bodies, MiB")
	flag.IntVar(&cfg.cpuMsgs, "cpu-msgs", 2000, "messages per client per round in the CPU case")
	flag.StringVar(&cfg.only, "only", "", "comma-separated case prefixes to run (e.g. loopback,dotstuff); empty: all")
	flag.Parse()
	if *sinkChild {
		if err := serveSinkChild(); err != nil {
			fmt.Fprintln(os.Stderr, "sink:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run(cfg))
}

// target is a server the SMTP cases run against.
type target struct {
	name  string // the case's prefix
	desc  string // what the server is
	addr  string
	delay time.Duration // simulated round-trip time
	lmtp  bool
	round time.Duration
}

// run runs every case, and returns the exit status.
func run(cfg config) int {
	printHeader(cfg)
	var srv servers
	defer srv.stopAll()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		srv.stopAll()
		fmt.Println("note: interrupted; the servers started are stopped")
		os.Exit(130)
	}()

	status := 0
	targets, err := startTargets(cfg, &srv)
	if err != nil {
		fmt.Println("FAIL:", err)
		status = 1
	}
	if !runSMTP(cfg, targets) {
		status = 1
	}
	if !runCPU(cfg, targets) {
		status = 1
	}
	srv.stopAll()
	if cfg.wants("dotstuff") {
		if err := runStuffing(cfg); err != nil {
			fmt.Println("FAIL: dotstuff:", err)
			status = 1
		}
	}
	return status
}

// servers are the processes started, to be stopped (also from the signal
// handler).
type servers struct {
	mu    sync.Mutex
	procs []*proc
}

func (s *servers) add(p *proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs = append(s.procs, p)
}

func (s *servers) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop()
	}
	s.procs = nil
}

// startTargets starts the servers of the cases wanted: the smtptest sink
// (loopback and delay cases), smtp-sink and Dovecot when installed, with a
// note for each one skipped. The error is the sink's, whose cases cannot
// run without it; the others are still started.
func startTargets(cfg config, srv *servers) ([]target, error) {
	var targets []target
	var sinkErr error
	if cfg.wants("loopback") || cfg.wants(delayName(cfg.delay)) || cfg.wants(cpuCase("loopback")) {
		if p, addr, err := startSinkChild(); err != nil {
			sinkErr = fmt.Errorf("loopback: %w", err)
		} else {
			srv.add(p)
			targets = append(targets,
				target{name: "loopback", desc: "session/smtptest (Discard) in a child process", addr: addr, round: cfg.round},
				target{name: delayName(cfg.delay), desc: fmt.Sprintf("the same sink, %v added each way", cfg.delay),
					addr: addr, delay: 2 * cfg.delay, round: cfg.delayRound})
		}
	}
	if cfg.wants("smtp-sink") || cfg.wants(cpuCase("smtp-sink")) {
		if bin := findBinary("smtp-sink"); bin == "" {
			fmt.Println("note: smtp-sink cases skipped: Postfix's smtp-sink is not installed (scripts/interop/install.sh installs it)")
		} else if p, addr, err := startSMTPSink(bin); err != nil {
			fmt.Println("note: smtp-sink cases skipped: could not start it:", err)
		} else {
			srv.add(p)
			desc := "Postfix smtp-sink " + version(findBinary("postconf"), "-d", "-h", "mail_version")
			targets = append(targets, target{name: "smtp-sink", desc: desc, addr: addr, round: cfg.round})
		}
	}
	if cfg.wants("dovecot-lmtp") {
		if bin := findBinary("dovecot"); bin == "" {
			fmt.Println("note: dovecot-lmtp cases skipped: Dovecot is not installed (scripts/interop/install.sh installs it)")
		} else if os.Geteuid() != 0 {
			fmt.Println("note: dovecot-lmtp cases skipped: Dovecot must be started as root here (it delivers as nobody)")
		} else if p, addr, err := startDovecot(bin, 10); err != nil {
			fmt.Println("note: dovecot-lmtp cases skipped: could not start it:", err)
		} else {
			srv.add(p)
			desc := "Dovecot LMTP " + version(bin, "--version")
			targets = append(targets, target{name: "dovecot-lmtp", desc: desc, addr: addr, lmtp: true, round: cfg.round})
		}
	}
	return targets, sinkErr
}

// runSMTP runs the SMTP cases wanted against each target, with 1 and 10
// recipients, and reports whether all of them succeeded.
func runSMTP(cfg config, targets []target) bool {
	ok := true
	body := bench.MakeBody(cfg.size)
	for _, t := range targets {
		if !cfg.wants(t.name) {
			continue
		}
		ext, err := extensions(t.addr, t.lmtp)
		if err != nil {
			fmt.Printf("FAIL: %s: %v\n", t.name, err)
			ok = false
			continue
		}
		fmt.Printf("# %s: %s on %s, simulated round trip %v; it offers %s\n", t.name, t.desc, t.addr, t.delay, ext)
		for _, n := range []int{1, 10} {
			name := fmt.Sprintf("%s-%drcpt", t.name, n)
			if !cfg.wants(name) {
				continue
			}
			msg := bench.Message{From: bench.Sender, To: bench.Recipients(n), Body: body}
			if err := runCase(cfg, name, t, msg); err != nil {
				fmt.Printf("FAIL: %s: %v\n", name, err)
				ok = false
			}
		}
	}
	return ok
}

// extensions greets the server at addr with EHLO (LHLO) and returns the
// keywords of its reply, to show which of PIPELINING and CHUNKING are in
// play.
func extensions(addr string, lmtp bool) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	tc := textproto.NewConn(conn)
	if _, _, err := tc.ReadResponse(220); err != nil {
		return "", err
	}
	verb := "EHLO"
	if lmtp {
		verb = "LHLO"
	}
	if err := tc.PrintfLine("%s %s", verb, bench.LocalName); err != nil {
		return "", err
	}
	_, msg, err := tc.ReadResponse(250)
	if err != nil {
		return "", err
	}
	var kws []string
	for _, l := range strings.Split(msg, "\n")[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			kws = append(kws, f[0])
		}
	}
	tc.PrintfLine("QUIT")
	return strings.Join(kws, " "), nil
}

// version runs bin with args and returns the first line of its output
// ("" if bin is "" or fails).
func version(bin string, args ...string) string {
	if bin == "" {
		return ""
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// delayName names the delay case by its one-way delay, in ASCII: delay5ms.
func delayName(d time.Duration) string {
	return "delay" + strings.ReplaceAll(strings.TrimSuffix(d.String(), "0s"), "µ", "u")
}

// wants reports whether the case (or case prefix) name is to be run.
func (cfg config) wants(name string) bool {
	if cfg.only == "" {
		return true
	}
	for _, p := range strings.Split(cfg.only, ",") {
		if p != "" && (strings.HasPrefix(name, p) || strings.HasPrefix(p, name)) {
			return true
		}
	}
	return false
}

// runCase connects every client to t, then interleaves their rounds and
// prints the case's lines.
func runCase(cfg config, name string, t target, msg bench.Message) error {
	var cs []*bench.Contender
	defer func() {
		for _, c := range cs {
			c.Mailer.Quit()
		}
	}()
	for _, c := range bench.Clients(cfg.batch) {
		if t.lmtp && c.SMTPOnly {
			fmt.Printf("note: %s: %s skipped: it has no LMTP client\n", name, c.Name)
			continue
		}
		raw, err := net.DialTimeout("tcp", t.addr, 5*time.Second)
		if err != nil {
			return err
		}
		conn := bench.NewTurnConn(raw, t.delay)
		m, err := c.Start(conn, t.lmtp, msg)
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		cs = append(cs, &bench.Contender{Name: c.Name, Unit: c.Unit, Mailer: m, Conn: conn})
	}
	if err := bench.Interleave(cs, cfg.rounds, t.round); err != nil {
		return err
	}
	rs := make([]bench.Result, len(cs))
	for i, c := range cs {
		rs[i] = c.Result(name)
	}
	bench.PrintCase(os.Stdout, rs)
	return nil
}

// runStuffing measures the dot-stuffers on four bodies: 76-character lines
// and ragged lines, each out of cache (cfg.stuffMiB) and in cache (512 KiB,
// run 128 times per measurement). Not 1 MiB: from 1 MiB up, Go's memmove
// on amd64 switches to non-temporal stores, which bypass the cache, so the
// copy baseline would not be an in-cache figure.
func runStuffing(cfg config) error {
	big := cfg.stuffMiB << 20
	fmt.Printf("# dotstuff: the %d MiB bodies do not fit in cache (%s); the 512 KiB ones (input and output) fit in it: theirs are in-cache figures\n",
		cfg.stuffMiB, cacheInfo())
	for _, c := range []struct {
		name   string
		body   func(int) []byte
		size   int
		passes int
	}{
		{fmt.Sprintf("dotstuff-lines76-%dMiB", cfg.stuffMiB), bench.MakeBody, big, 1},
		{fmt.Sprintf("dotstuff-ragged-%dMiB", cfg.stuffMiB), bench.RaggedText, big, 1},
		{"dotstuff-lines76-512KiB-incache", bench.MakeBody, 512 << 10, 128},
		{"dotstuff-ragged-512KiB-incache", bench.RaggedText, 512 << 10, 128},
	} {
		rs, err := bench.MeasureStuffings(c.name, bench.Stuffings(), c.body(c.size), c.passes, cfg.rounds)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		bench.PrintStuffings(os.Stdout, rs)
		runtime.GC() // let the big buffers go before the next body
	}
	return nil
}

func printHeader(cfg config) {
	fmt.Printf("# postwire make bench, %s, %s %s/%s, %d CPUs (%s), %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), cpuModel(), cacheInfo())
	fmt.Printf("# SMTP cases: %d-byte messages; %d rounds, each client sending for %v per round (%v in the delay case), interleaved in rotating order; every figure is the median over the rounds; batch = %d messages per SendBatch\n",
		cfg.size, cfg.rounds, cfg.round, cfg.delayRound, cfg.batch)
}

// cpuModel returns the first "model name" of /proc/cpuinfo ("unknown CPU").
func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// cacheInfo describes the largest cache of CPU 0 ("cache size unknown").
func cacheInfo() string {
	best, size := 0, ""
	for i := range 8 {
		dir := fmt.Sprintf("/sys/devices/system/cpu/cpu0/cache/index%d/", i)
		lb, err1 := os.ReadFile(dir + "level")
		sb, err2 := os.ReadFile(dir + "size")
		if err1 != nil || err2 != nil {
			continue
		}
		var level int
		fmt.Sscan(string(lb), &level)
		if level > best {
			best, size = level, strings.TrimSpace(string(sb))
		}
	}
	if best == 0 {
		return "cache size unknown"
	}
	return fmt.Sprintf("largest cache L%d %s", best, cacheSize(size))
}

// cacheSize turns sysfs's "32768K" into "32 MiB" (other forms as they are).
func cacheSize(s string) string {
	var k int
	if _, err := fmt.Sscanf(s, "%dK", &k); err != nil || k%1024 != 0 {
		return s
	}
	return fmt.Sprintf("%d MiB", k/1024)
}
