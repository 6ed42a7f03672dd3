package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/postwire/postwire/bench"
)

// cpuTargets are the servers of the CPU cases, in the order run: Postfix's
// smtp-sink (DATA for everyone) and the loopback case's smtptest sink
// (CHUNKING, so BDAT for postwire; smtp-source sends DATA anyway).
var cpuTargets = []string{"smtp-sink", "loopback"}

// cpuCase names the CPU case against a target: cpu-smtp-sink-1rcpt.
func cpuCase(target string) string { return "cpu-" + target + "-1rcpt" }

// runCPU runs the CPU cases wanted whose target is up, and reports whether
// all of them succeeded.
func runCPU(cfg config, targets []target) bool {
	ok := true
	for _, name := range cpuTargets {
		if !cfg.wants(cpuCase(name)) {
			continue
		}
		i := slices.IndexFunc(targets, func(t target) bool { return t.name == name })
		if i < 0 {
			fmt.Printf("note: %s skipped: its server did not start (see above)\n", cpuCase(name))
			continue
		}
		if err := runCPUCase(cfg, cpuCase(name), targets[i]); err != nil {
			fmt.Printf("FAIL: %s: %v\n", cpuCase(name), err)
			ok = false
		}
	}
	return ok
}

// runCPUCase measures the CPU time per message of postwire's two clients
// and of Postfix's smtp-source (when installed), each on one connection to
// t, sending cfg.cpuMsgs messages a round, interleaved.
//
// postwire's figure is this process's rusage around its sends: only the
// client works here, since every server runs in a child process and the
// other cases' clients have quit. smtp-source's is its own rusage, as a
// child process: a run of cfg.cpuMsgs messages less a run of one, which
// takes out its start, connection, HELO and QUIT, as postwire's warm-up
// does for its own.
func runCPUCase(cfg config, name string, t target) error {
	msg := bench.Message{From: bench.Sender, To: bench.Recipients(1), Body: bench.MakeBody(cfg.size)}
	var ms []bench.CPUMeter
	var mailers []bench.Mailer
	defer func() {
		for _, m := range mailers {
			m.Quit()
		}
	}()
	for _, c := range bench.Clients(cfg.batch) {
		if !strings.HasPrefix(c.Name, "postwire") {
			continue
		}
		conn, err := net.DialTimeout("tcp", t.addr, 5*time.Second)
		if err != nil {
			return err
		}
		m, err := c.Start(conn, false, msg) // no TurnConn: nothing but the client's own work
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		mailers = append(mailers, m)
		ms = append(ms, bench.MailerCPU(c.Name, m, c.Unit, cfg.cpuMsgs))
	}
	if bin := findBinary("smtp-source"); bin == "" {
		fmt.Printf("note: %s: smtp-source skipped: Postfix's smtp-source is not installed (scripts/interop/install.sh installs it)\n", name)
	} else {
		ms = append(ms, sourceCPU(bin, t.addr, cfg.cpuMsgs, cfg.size, msg.From, msg.To[0]))
	}
	fmt.Printf("# %s: client CPU time (user+sys) per message to %s on %s, %d messages a round per client, one connection each; "+
		"postwire: this process's getrusage around its sends (every server runs in another process); "+
		"smtp-source: its rusage for -m %d less that for -m 1, over %d messages: %s\n",
		name, t.desc, t.addr, cfg.cpuMsgs, cfg.cpuMsgs, cfg.cpuMsgs-1, strings.Join(sourceArgs("ADDR", cfg.cpuMsgs, cfg.size, msg.From, msg.To[0]), " "))
	runtime.GC() // start from a heap holding nothing of earlier cases
	rs, err := bench.InterleaveCPU(name, ms, cfg.rounds)
	if err != nil {
		return err
	}
	bench.PrintCPU(os.Stdout, rs, "smtp-source")
	return nil
}

// sourceCPU returns a meter running smtp-source twice a round: with msgs
// messages and with one; the round's figure is the difference, over
// msgs-1 messages.
func sourceCPU(bin, addr string, msgs, size int, from, to string) bench.CPUMeter {
	run := func(n int) (time.Duration, error) {
		cmd := exec.Command(bin, sourceArgs(addr, n, size, from, to)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("%v: %s", err, strings.TrimSpace(out.String()))
		}
		return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
	}
	return bench.CPUMeter{Name: "smtp-source", Round: func() (time.Duration, int, error) {
		one, err := run(1)
		if err != nil {
			return 0, 0, err
		}
		all, err := run(msgs)
		if err != nil {
			return 0, 0, err
		}
		return all - one, msgs - 1, nil
	}}
}

// sourceArgs are smtp-source's arguments for msgs messages of about size
// bytes, from and to one recipient, on one connection: -s 1 (one session),
// -d (do not disconnect after each message: without it every message has
// its own connection). No -c, whose counter writes to the terminal per
// message.
func sourceArgs(addr string, msgs, size int, from, to string) []string {
	return []string{"-s", "1", "-d", "-m", strconv.Itoa(msgs),
		"-l", strconv.Itoa(sourcePayload(size, from, to)), "-M", bench.LocalName,
		"-f", from, "-t", to, addr}
}

// sourcePayload returns the -l that makes smtp-source's messages about size
// bytes. It writes a header block of its own, e.g.
//
//	From: <a@x.test>
//	To: <b@y.test>
//	Date: Tue,  1 Dec 2026 16:53:10 +0000 (UTC)
//	Message-Id: <4264.0003.0001@bench.example>
//
// then -l bytes of 80-character lines (CRLF included), then a CRLF. The
// Date and Message-Id lengths are estimates (time zone, process ID), so
// "about": within a few bytes.
func sourcePayload(size int, from, to string) int {
	header := len("From: <>\r\nTo: <>\r\nDate: Tue,  1 Dec 2026 16:53:10 +0000 (UTC)\r\nMessage-Id: <0000.0000.0000@>\r\n\r\n") +
		len(from) + len(to) + len(bench.LocalName)
	return max(1, size-header-2)
}
