/*
** smb2.h - SMB 2 and 3 messages as the named-pipe client needs them
** ([MS-SMB2] 2.2): the 64-byte header, the commands, flags and statuses,
** and a decoder for one received message that checks every size, offset
** and length against the bytes actually there. Sans IO: smb/smb_client.c
** builds requests with these helpers and feeds responses to the decoder.
*/
#ifndef DCE_SMB2_H
#define DCE_SMB2_H

#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"

#define SMB2_HDR_LEN 64

/* commands ([MS-SMB2] 2.2.1) */
enum {
  SMB2_NEGOTIATE = 0, SMB2_SESSION_SETUP = 1, SMB2_LOGOFF = 2, SMB2_TREE_CONNECT = 3,
  SMB2_TREE_DISCONNECT = 4, SMB2_CREATE = 5, SMB2_CLOSE = 6, SMB2_FLUSH = 7, SMB2_READ = 8,
  SMB2_WRITE = 9, SMB2_LOCK = 10, SMB2_IOCTL = 11, SMB2_CANCEL = 12, SMB2_ECHO = 13,
  SMB2_OPLOCK_BREAK = 18
};

/* header flags */
#define SMB2_FLAGS_SERVER_TO_REDIR 0x00000001u
#define SMB2_FLAGS_ASYNC_COMMAND   0x00000002u
#define SMB2_FLAGS_RELATED         0x00000004u
#define SMB2_FLAGS_SIGNED          0x00000008u

/* SecurityMode */
#define SMB2_NEGOTIATE_SIGNING_ENABLED  0x0001u
#define SMB2_NEGOTIATE_SIGNING_REQUIRED 0x0002u

/* Capabilities */
#define SMB2_GLOBAL_CAP_DFS        0x01u
#define SMB2_GLOBAL_CAP_LEASING    0x02u
#define SMB2_GLOBAL_CAP_LARGE_MTU  0x04u
#define SMB2_GLOBAL_CAP_ENCRYPTION 0x40u

/* dialects */
#define SMB2_DIALECT_202 0x0202u
#define SMB2_DIALECT_210 0x0210u
#define SMB2_DIALECT_300 0x0300u
#define SMB2_DIALECT_302 0x0302u
#define SMB2_DIALECT_311 0x0311u

/* negotiate contexts (3.1.1) */
#define SMB2_PREAUTH_INTEGRITY_CAPABILITIES 1u
#define SMB2_ENCRYPTION_CAPABILITIES        2u
#define SMB2_SIGNING_CAPABILITIES           8u
#define SMB2_PREAUTH_SHA512                 1u

/* session flags, share flags */
#define SMB2_SESSION_FLAG_IS_GUEST     0x0001u
#define SMB2_SESSION_FLAG_IS_NULL      0x0002u
#define SMB2_SESSION_FLAG_ENCRYPT_DATA 0x0004u
#define SMB2_SHARE_TYPE_PIPE           0x02u
#define SMB2_SHAREFLAG_ENCRYPT_DATA    0x00008000u

#define FSCTL_PIPE_TRANSCEIVE       0x0011C017u
#define FSCTL_VALIDATE_NEGOTIATE_INFO 0x00140204u
#define SMB2_0_IOCTL_IS_FSCTL       0x00000001u

/* statuses (NTSTATUS) an SMB client meets */
#define SMB2_STATUS_SUCCESS                 0x00000000u
#define SMB2_STATUS_PENDING                 0x00000103u
#define SMB2_STATUS_BUFFER_OVERFLOW         0x80000005u
#define SMB2_STATUS_MORE_PROCESSING         0xC0000016u
#define SMB2_STATUS_INVALID_PARAMETER       0xC000000Du
#define SMB2_STATUS_ACCESS_DENIED           0xC0000022u
#define SMB2_STATUS_OBJECT_NAME_NOT_FOUND   0xC0000034u
#define SMB2_STATUS_LOGON_FAILURE           0xC000006Du
#define SMB2_STATUS_INVALID_NETWORK_RESPONSE 0xC00000C3u
#define SMB2_STATUS_PIPE_BROKEN             0xC000014Bu
#define SMB2_STATUS_PIPE_DISCONNECTED       0xC00000B0u
#define SMB2_STATUS_PIPE_CLOSING            0xC00000B1u
#define SMB2_STATUS_BAD_NETWORK_NAME        0xC00000CCu
#define SMB2_STATUS_NOT_SUPPORTED           0xC00000BBu
#define SMB2_STATUS_INVALID_SIGNATURE       0xC000A000u
#define SMB2_STATUS_USER_SESSION_DELETED    0xC0000203u
#define SMB2_STATUS_NETWORK_SESSION_EXPIRED 0xC000035Cu
#define SMB2_STATUS_IO_TIMEOUT              0xC00000B5u
#define SMB2_STATUS_CONNECTION_DISCONNECTED 0xC000020Cu
#define SMB2_STATUS_NO_MEMORY               0xC0000017u
#define SMB2_STATUS_REQUEST_NOT_ACCEPTED    0xC00000D0u
#define SMB2_STATUS_DECRYPTION_FAILED       0xC000A004u

/* The fields of a header; `body` and `body_len` give the message after the
** header (up to NextCommand, or the end of the frame). */
typedef struct smb2_msg {
  uint16_t credit_charge, command, credits;
  uint32_t status, flags, next_command, tree_id;
  uint64_t message_id, async_id, session_id;
  const uint8_t *signature;        /* 16 bytes inside the message */
  const uint8_t *msg;              /* the header's first byte */
  size_t msg_len;                  /* header + body (what a signature covers) */
  const uint8_t *body;
  size_t body_len;
} smb2_msg;

/* Decode the message at p[0..len) (one link of a compound chain: `len` is
** what is left of the frame). 0, or -1 with a reason in err: bad protocol
** id, header size, a NextCommand that is not 8-aligned or points beyond
** the frame. *next: offset of the next message in the chain, 0 if none. */
int smb2_msg_decode(smb2_msg *m, const uint8_t *p, size_t len, size_t *next,
                    char *err, size_t errlen);

/* A range [off, off+len) named by a response, relative to the header's
** first byte: NULL (with err) unless it lies within the message and after
** the fixed part of the body (min_off from the header). len 0 gives the
** empty range (a non-NULL pointer into the message). */
const uint8_t *smb2_range(const smb2_msg *m, uint32_t off, uint32_t len, size_t min_off,
                          const char *what, char *err, size_t errlen);

/* Start a request in b: the 64-byte header (little-endian) with the fields
** given; the signature is zero. Returns the offset of the header in b, or
** (size_t)-1 when out of memory. */
size_t smb2_hdr_put(dce_buf *b, uint16_t command, uint16_t credit_charge, uint16_t credits,
                    uint32_t flags, uint64_t message_id, uint32_t tree_id, uint64_t session_id);

/* Name of a command ("READ"), for messages. */
const char *smb2_command_name(uint16_t command);

#endif
