package main

// Child processes: every target server runs in a process of its own, so
// that its CPU time and RSS are its alone. Each child is registered here and
// killed when the suite ends, whether it ends normally, on an error or on
// SIGINT/SIGTERM/SIGHUP; each child also gets SIGKILL from the kernel if the
// suite dies without cleaning up (Pdeathsig), and the Go children also exit
// when their stdin (a pipe from the suite) closes.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is one running target process.
type child struct {
	name   string
	cmd    *exec.Cmd
	pid    int
	addr   string // 127.0.0.1:port it listens on (a NATS target: the NATS URL it serves through)
	stderr *tailBuffer
	stdin  io.Closer
	done   chan struct{} // closed when the process has exited and been reaped
	ctl    net.Conn      // memStats's connection, once opened
	ctlID  int
}

var registry struct {
	sync.Mutex
	m      map[*child]struct{}
	closed bool
}

// startChild runs argv in dir and waits (up to 60 s) for its first stdout
// line, which must be "LISTENING <port>" (a NATS target: "LISTENING
// nats://…").
func startChild(name, dir string, argv []string, extraEnv ...string) (*child, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.SysProcAttr = deathSig()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	c := &child{name: name, cmd: cmd, stderr: &tailBuffer{max: 16 << 10}, stdin: stdin, done: make(chan struct{})}
	cmd.Stderr = c.stderr

	registry.Lock()
	if registry.closed {
		registry.Unlock()
		return nil, errors.New("suite is shutting down")
	}
	if err := cmd.Start(); err != nil {
		registry.Unlock()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if registry.m == nil {
		registry.m = map[*child]struct{}{}
	}
	registry.m[c] = struct{}{}
	registry.Unlock()
	c.pid = cmd.Process.Pid

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		} else {
			close(lines)
		}
		io.Copy(io.Discard, stdout) // nothing else is expected; never block the child
	}()
	go func() {
		cmd.Wait()
		close(c.done)
	}()
	select {
	case line, ok := <-lines:
		port, found := strings.CutPrefix(line, "LISTENING ")
		if !ok || !found {
			c.kill()
			return nil, fmt.Errorf("%s did not start (first line %q); stderr:\n%s", name, line, c.stderr.String())
		}
		if _, err := strconv.Atoi(port); err == nil {
			c.addr = "127.0.0.1:" + port
		} else if strings.HasPrefix(port, "nats://") { // a NATS target: the server it serves through
			c.addr = port
		} else {
			c.kill()
			return nil, fmt.Errorf("%s printed %q", name, line)
		}
	case <-time.After(60 * time.Second):
		c.kill()
		return nil, fmt.Errorf("%s did not print LISTENING within 60s; stderr:\n%s", name, c.stderr.String())
	}
	return c, nil
}

// alive reports whether the process is still running.
func (c *child) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// kill ends the process (SIGKILL) and reaps it.
func (c *child) kill() {
	c.closeCtl()
	if c.cmd == nil { // not a process of ours (bench load)
		return
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
	}
	registry.Lock()
	delete(registry.m, c)
	registry.Unlock()
}

// killAll kills every child still registered; no child starts afterwards.
func killAll() {
	registry.Lock()
	registry.closed = true
	cs := make([]*child, 0, len(registry.m))
	for c := range registry.m {
		cs = append(cs, c)
	}
	registry.Unlock()
	for _, c := range cs {
		c.kill()
	}
}

// onSignals kills the children and exits when the suite is interrupted.
func onSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-ch
		fmt.Fprintf(os.Stderr, "\nbench: %v: stopping the target processes\n", s)
		killAll()
		os.Exit(130)
	}()
}

// raiseNoFile sets RLIMIT_NOFILE's soft limit to its hard limit. Children
// started afterwards inherit it (Go passes on a limit the program set
// itself).
func raiseNoFile() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	lim.Cur = lim.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// ---- /proc -------------------------------------------------------------------

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields resume after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc stat times")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// statusKB reads a "kB" field of /proc/<pid>/status (VmRSS, VmHWM).
func statusKB(pid int, field string) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.Atoi(f[0])
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// deathSig makes the kernel kill a child when the suite dies.
func deathSig() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
