/*
** smb2.c - the SMB2 header: decoding a received message with every size
** checked, encoding a request's header. See smb2.h.
*/
#include <stdio.h>
#include <string.h>
#include "smb/smb2.h"

static const uint8_t SMB2_MAGIC[4] = { 0xFE, 'S', 'M', 'B' };

int smb2_msg_decode(smb2_msg *m, const uint8_t *p, size_t len, size_t *next,
                    char *err, size_t errlen) {
  memset(m, 0, sizeof *m);
  *next = 0;
  if (len >= 4 && p[0] == 0xFF && p[1] == 'S' && p[2] == 'M' && p[3] == 'B') {
    snprintf(err, errlen, "the server answered in SMB1, which this client does not speak");
    return -1;
  }
  if (len < SMB2_HDR_LEN) {
    snprintf(err, errlen, "SMB2 message of %zu bytes is shorter than its header", len);
    return -1;
  }
  if (memcmp(p, SMB2_MAGIC, 4) != 0) {
    snprintf(err, errlen, "not an SMB2 message (protocol id %02x%02x%02x%02x)", p[0], p[1], p[2], p[3]);
    return -1;
  }
  if (dce_ld16(p + 4, 1) != SMB2_HDR_LEN) {
    snprintf(err, errlen, "SMB2 header StructureSize %u (must be 64)", (unsigned)dce_ld16(p + 4, 1));
    return -1;
  }
  m->credit_charge = dce_ld16(p + 6, 1);
  m->status = dce_ld32(p + 8, 1);
  m->command = dce_ld16(p + 12, 1);
  m->credits = dce_ld16(p + 14, 1);
  m->flags = dce_ld32(p + 16, 1);
  m->next_command = dce_ld32(p + 20, 1);
  m->message_id = dce_ld64(p + 24, 1);
  if (m->flags & SMB2_FLAGS_ASYNC_COMMAND) m->async_id = dce_ld64(p + 32, 1);
  else m->tree_id = dce_ld32(p + 36, 1);
  m->session_id = dce_ld64(p + 40, 1);
  m->signature = p + 48;
  m->msg = p;
  m->msg_len = len;
  if (m->next_command) {
    if (m->next_command % 8 || m->next_command < SMB2_HDR_LEN || m->next_command > len) {
      snprintf(err, errlen, "SMB2 NextCommand %u is not an 8-aligned offset within the %zu bytes left",
               (unsigned)m->next_command, len);
      return -1;
    }
    m->msg_len = m->next_command;
    *next = m->next_command;
  }
  m->body = p + SMB2_HDR_LEN;
  m->body_len = m->msg_len - SMB2_HDR_LEN;
  return 0;
}

const uint8_t *smb2_range(const smb2_msg *m, uint32_t off, uint32_t len, size_t min_off,
                          const char *what, char *err, size_t errlen) {
  if (len == 0) return m->msg + (min_off <= m->msg_len ? min_off : m->msg_len);
  if (off < min_off || off > m->msg_len || len > m->msg_len - off) {
    snprintf(err, errlen, "%s %s: offset %u length %u lies outside the %zu-byte message",
             smb2_command_name(m->command), what, (unsigned)off, (unsigned)len, m->msg_len);
    return NULL;
  }
  return m->msg + off;
}

size_t smb2_hdr_put(dce_buf *b, uint16_t command, uint16_t credit_charge, uint16_t credits,
                    uint32_t flags, uint64_t message_id, uint32_t tree_id, uint64_t session_id) {
  size_t at = b->len;
  uint8_t *q;
  if (dce_buf_zero(b, SMB2_HDR_LEN)) return (size_t)-1;
  q = b->p + at;
  memcpy(q, SMB2_MAGIC, 4);
  dce_st16(q + 4, SMB2_HDR_LEN, 1);
  dce_st16(q + 6, credit_charge, 1);
  dce_st16(q + 12, command, 1);
  dce_st16(q + 14, credits, 1);
  dce_st32(q + 16, flags, 1);
  dce_st64(q + 24, message_id, 1);
  dce_st32(q + 32, 0xFEFF, 1);                 /* ProcessId: reserved, as Windows sends it */
  dce_st32(q + 36, tree_id, 1);
  dce_st64(q + 40, session_id, 1);
  return at;
}

const char *smb2_command_name(uint16_t c) {
  static const char *const names[] = {
    "NEGOTIATE", "SESSION_SETUP", "LOGOFF", "TREE_CONNECT", "TREE_DISCONNECT", "CREATE",
    "CLOSE", "FLUSH", "READ", "WRITE", "LOCK", "IOCTL", "CANCEL", "ECHO", "QUERY_DIRECTORY",
    "CHANGE_NOTIFY", "QUERY_INFO", "SET_INFO", "OPLOCK_BREAK"
  };
  return c < sizeof names / sizeof names[0] ? names[c] : "command";
}
