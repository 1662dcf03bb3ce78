/* SPDX-License-Identifier: GPL-2.0 */
/*
 * GDB remote serial protocol client (as spoken by QEMU's gdbstub).
 *
 * Two layers: pure framing and reply parsing (no I/O, fuzzable), and a blocking client on a
 * socket. No printing, no policy: every failure is a negative errno plus an ekp_err() reason.
 */
#ifndef EKPROBE_PROTO_RSP_H
#define EKPROBE_PROTO_RSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekprobe/util.h"

/* ---- framing (pure) ---- */

enum rsp_frame_kind {
	RSP_FRAME_ACK,          /* '+' */
	RSP_FRAME_NACK,         /* '-' */
	RSP_FRAME_PACKET,       /* $payload#cs, checksum verified */
	RSP_FRAME_NOTIFICATION, /* %payload#cs */
	RSP_FRAME_BAD_CHECKSUM, /* a packet whose checksum did not match (answer with '-') */
};

struct rsp_frame {
	enum rsp_frame_kind kind;
	struct ekp_buf payload; /* unescaped and run-length expanded */
};

/*
 * Incremental decoder: feed any chunks, take frames out as they complete. Linear: every byte
 * fed is examined once, however it is split (a state machine that remembers where it is).
 * Fields are private to rsp_frame.c.
 */
struct rsp_decoder {
	struct ekp_buf in;  /* bytes fed; those before head are consumed */
	size_t head;        /* start of the frame being decoded, else of what is not examined */
	size_t pos;         /* next byte to examine */
	size_t hash;        /* the frame's '#', as an offset from head */
	unsigned int sum;   /* checksum of the frame's bytes examined so far */
	int state;
	uint64_t work;      /* see rsp_decoder_work() */
};

void rsp_decoder_init(struct rsp_decoder *d);
void rsp_decoder_free(struct rsp_decoder *d);
int rsp_decoder_feed(struct rsp_decoder *d, const void *data, size_t len);
/* 1 and *out filled when a frame is complete, 0 when more input is needed, -EPROTO on junk
 * that cannot be resynchronised (e.g. an over-long packet). Caller frees out->payload.
 * After -EPROTO the bad frame is gone: calling again continues with what follows. */
int rsp_decoder_next(struct rsp_decoder *d, struct rsp_frame *out);
/*
 * Work done since init: bytes examined + bytes unpacked into payloads + bytes moved to reuse
 * buffer space. Each of the three is at most the number of bytes fed, so this never exceeds
 * 3 x the bytes fed (tests and the fuzzer check it: a decoder that rescans would not hold).
 */
uint64_t rsp_decoder_work(const struct rsp_decoder *d);

/* Append "$<escaped payload>#cs" to out. */
int rsp_encode_packet(struct ekp_buf *out, const void *payload, size_t len);

/* Thread id "p<pid>.<tid>" or "<tid>" (hex; -1 = all, 0 = any). */
struct rsp_thread {
	long pid; /* 0 if the multiprocess form was not used */
	long tid;
};
int rsp_parse_thread(const char *s, size_t len, struct rsp_thread *out);
/* "p<pid>.<tid>" in multiprocess form ("<tid>" when pid is 0); buf at least 40 bytes. */
void rsp_format_thread(const struct rsp_thread *t, char *buf, size_t size);

struct rsp_stop {
	char kind;        /* 'S' 'T' signal; 'W' exited; 'X' killed; 'O' console output */
	int signal;       /* S/T/X */
	int exit_status;  /* W */
	bool has_thread;
	struct rsp_thread thread;
	bool watch;       /* T with watch/rwatch/awatch */
	uint64_t watch_addr;
};
int rsp_parse_stop(const char *payload, size_t len, struct rsp_stop *out);

/* ---- target description (pure) ---- */

struct rsp_reg_desc {
	char name[32];
	unsigned int bitsize;
	unsigned int regnum;
};

struct rsp_target_desc {
	char arch[64];
	unsigned int nr_regs;
	struct rsp_reg_desc *regs; /* sorted by regnum */
};

/* Parse one target-description XML document. Included documents (<xi:include href=...>) are
 * returned through includes[] (caller frees each, then the array) to be fetched and parsed
 * into the same desc. A document that fails to parse leaves desc unchanged. */
int rsp_target_desc_parse(struct rsp_target_desc *desc, const char *xml, size_t len,
			  char ***includes, unsigned int *nr_includes);
void rsp_target_desc_free(struct rsp_target_desc *desc);
/* The register of that name, or NULL. */
const struct rsp_reg_desc *rsp_target_desc_find(const struct rsp_target_desc *desc,
						const char *name);
/* Byte offset of register regnum inside a 'g' reply (registers in regnum order), or -ENOENT. */
long rsp_target_desc_g_offset(const struct rsp_target_desc *desc, unsigned int regnum);

/* ---- client (blocking, over a connected stream socket) ---- */

/*
 * Every call that takes timeout_ms finishes within it (timeout_ms < 0: no limit), including
 * when the stub keeps sending bytes that never complete what the call waits for: -ETIMEDOUT.
 */
struct rsp_client;

int rsp_connect_unix(const char *path, int timeout_ms, struct rsp_client **out);
int rsp_connect_tcp(const char *host, const char *port, int timeout_ms, struct rsp_client **out);
/* A client on a stream socket connected already (one end of a socketpair whose other end the
 * stub has): takes fd, which must be non-blocking; it is closed on failure too. */
int rsp_client_from_fd(int fd, struct rsp_client **out);
void rsp_close(struct rsp_client *c);
/* For poll() while the target runs: rsp_resume leaves nothing buffered, so POLLIN means the
 * stop reply is arriving (then call rsp_wait_stop). */
int rsp_fd(const struct rsp_client *c);

/* qSupported exchange; drops QEMU's unsolicited stop reply sent on connect to a running VM.
 * Sets *was_running when that stop reply came (the VM was running until we connected). */
int rsp_handshake(struct rsp_client *c, int timeout_ms, bool *was_running);
unsigned int rsp_packet_size(const struct rsp_client *c);
/*
 * Request/reply exchanges made so far: every packet the stub acknowledged and whose reply
 * the client then waited for (handshake included; each packet of a split m/M, qXfer or
 * thread list; a single-step once). A plain resume and an interrupt have no reply: not counted.
 */
uint64_t rsp_round_trips(const struct rsp_client *c);

/* Send one command and wait for its reply packet. Reply payload is left in reply. */
int rsp_command(struct rsp_client *c, const char *cmd, struct ekp_buf *reply, int timeout_ms);
/* Same, expecting "OK" (an "Exx" reply gives -EIO with the code in the reason). */
int rsp_command_ok(struct rsp_client *c, const char *cmd, int timeout_ms);

/* Fetch and parse target.xml with its includes (qXfer:features:read). */
int rsp_read_target_desc(struct rsp_client *c, struct rsp_target_desc *desc, int timeout_ms);

/* 'g' of the current general thread: raw little-endian register bytes. */
int rsp_read_all_regs(struct rsp_client *c, struct ekp_buf *raw, int timeout_ms);
/* p: 0 on success, the register's first min(size, its size) bytes in buf, the rest zeroed.
 * -EOPNOTSUPP on an empty reply (QEMU 7.2 answers p/P only after target.xml was read). */
int rsp_read_reg(struct rsp_client *c, unsigned int regnum, uint8_t *buf, size_t size,
		 int timeout_ms);
int rsp_write_reg(struct rsp_client *c, unsigned int regnum, const uint8_t *buf, size_t size,
		  int timeout_ms);
/* Hg: select the thread that g/G/p/P/m/M act on. */
int rsp_select_thread(struct rsp_client *c, const struct rsp_thread *t, int timeout_ms);
/* m/M, split to fit the packet size. -EFAULT when the target cannot access the memory. */
int rsp_read_mem(struct rsp_client *c, uint64_t addr, void *buf, size_t len, int timeout_ms);
int rsp_write_mem(struct rsp_client *c, uint64_t addr, const void *buf, size_t len,
		  int timeout_ms);
/* Z/z type 0..4 (0 sw break, 1 hw break, 2-4 watchpoints), kind = length/arch kind. */
int rsp_insert_break(struct rsp_client *c, int type, uint64_t addr, unsigned int kind,
		     int timeout_ms);
int rsp_remove_break(struct rsp_client *c, int type, uint64_t addr, unsigned int kind,
		     int timeout_ms);
/* QEMU's Qqemu.PhyMemMode: m/M then use guest physical addresses (physical) or virtual ones
 * (the default). Breakpoints are not affected. -EOPNOTSUPP when the stub is not QEMU. */
int rsp_set_phys_mem_mode(struct rsp_client *c, bool physical, int timeout_ms);
/* qfThreadInfo/qsThreadInfo. Caller frees *threads. */
int rsp_list_threads(struct rsp_client *c, struct rsp_thread **threads, unsigned int *nr,
		     int timeout_ms);

/* Resume: sends "vCont;<actions>" (e.g. "c", "s:p1.2;c") and returns once the stub acked it,
 * without waiting for the stop. */
int rsp_resume(struct rsp_client *c, const char *actions, int timeout_ms);
/* Wait for the stop reply after a resume. -ETIMEDOUT, -EPIPE on EOF (QEMU exited). 'O'
 * console-output packets are skipped. timeout_ms < 0 waits forever. */
int rsp_wait_stop(struct rsp_client *c, struct rsp_stop *stop, int timeout_ms);
/* Single-step one thread (others stay stopped) and wait for its stop. t NULL: the thread
 * of the last stop reply. */
int rsp_step(struct rsp_client *c, const struct rsp_thread *t, struct rsp_stop *stop,
	     int timeout_ms);
/* Ask a running target to stop (sends 0x03); the stop reply comes through rsp_wait_stop. */
int rsp_interrupt(struct rsp_client *c, int timeout_ms);
/* D: detach (QEMU removes all breakpoints and resumes). */
int rsp_detach(struct rsp_client *c, int timeout_ms);

#endif
