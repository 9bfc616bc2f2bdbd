/*
 * The node agent's native part (a Node-API addon, built by hack/build-native.mjs into
 * dist/native/ksleuth-agent.node): two system calls that Node.js has no binding for. The agent
 * runs without it, at a higher cost (node-agent/engine/native.ts says what falls back to what).
 *
 *   syslogBufferSize()        syslog(2) SYSLOG_ACTION_SIZE_BUFFER: the kernel log buffer's size.
 *   syslogReadAll(buffer)     syslog(2) SYSLOG_ACTION_READ_ALL into the buffer: the kernel log as
 *                             `dmesg --syslog --raw` prints it, without starting dmesg. It does not
 *                             consume records (unlike SYSLOG_ACTION_READ and /proc/kmsg, which
 *                             would take them from rsyslog). Needs CAP_SYSLOG where
 *                             kernel.dmesg_restrict is 1. Returns the bytes read.
 *   releaseFilePages()        madvise(MADV_DONTNEED) on every read-only file mapping that holds no
 *                             private (copy-on-write) page: the process stops mapping the pages of
 *                             the node binary and its libraries that only start-up used. The pages
 *                             stay in the page cache; what is used again is mapped again on the
 *                             next touch (a minor fault). Returns { bytes, mappings } advised.
 *
 * Errors are thrown as Error with `code` set to the errno name (EPERM, ENOSYS, ...).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>

#include <node_api.h>

#define SYSLOG_ACTION_READ_ALL 3
#define SYSLOG_ACTION_SIZE_BUFFER 10

static const char *errno_name(int error) {
  switch (error) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case ENOENT: return "ENOENT";
    default: return "EIO";
  }
}

static napi_value throw_errno(napi_env env, const char *what, int error) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(error));
  napi_throw_error(env, errno_name(error), message);
  return NULL;
}

static napi_value number(napi_env env, double value) {
  napi_value result;
  napi_create_double(env, value, &result);
  return result;
}

static napi_value syslog_buffer_size(napi_env env, napi_callback_info info) {
  (void)info;
  int size = klogctl(SYSLOG_ACTION_SIZE_BUFFER, NULL, 0);
  if (size < 0) return throw_errno(env, "syslog(SYSLOG_ACTION_SIZE_BUFFER)", errno);
  return number(env, size);
}

static napi_value syslog_read_all(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, NULL, "syslogReadAll needs a Buffer");
    return NULL;
  }
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "syslogReadAll needs a Buffer");
    return NULL;
  }
  int bytes = klogctl(SYSLOG_ACTION_READ_ALL, data, length > 0x7fffffff ? 0x7fffffff : (int)length);
  if (bytes < 0) return throw_errno(env, "syslog(SYSLOG_ACTION_READ_ALL)", errno);
  return number(env, bytes);
}

/*
 * One pass over /proc/self/smaps. A mapping is advised when it is not writable, maps a file (its
 * path starts with '/') and its Anonymous count is 0: MADV_DONTNEED on a private mapping drops its
 * copy-on-write pages too (relocated read-only data after RELRO), which would lose their contents.
 */
static napi_value release_file_pages(napi_env env, napi_callback_info info) {
  (void)info;
  FILE *smaps = fopen("/proc/self/smaps", "re");
  if (!smaps) return throw_errno(env, "/proc/self/smaps", errno);
  char line[4352];
  unsigned long start = 0, end = 0;
  int candidate = 0;
  double bytes = 0, mappings = 0;
  while (fgets(line, sizeof line, smaps)) {
    unsigned long a, b;
    char perms[8], path[4096];
    long anonymous;
    path[0] = '\0';
    /* A mapping's header line: "start-end perms offset dev inode [path]". */
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %4095s", &a, &b, perms, path) >= 3) {
      start = a;
      end = b;
      candidate = perms[1] != 'w' && path[0] == '/';
      continue;
    }
    if (candidate && sscanf(line, "Anonymous: %ld kB", &anonymous) == 1) {
      candidate = 0;
      if (anonymous == 0 && madvise((void *)start, end - start, MADV_DONTNEED) == 0) {
        bytes += (double)(end - start);
        mappings++;
      }
    }
  }
  fclose(smaps);
  napi_value result;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "bytes", number(env, bytes));
  napi_set_named_property(env, result, "mappings", number(env, mappings));
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"syslogBufferSize", NULL, syslog_buffer_size, NULL, NULL, NULL, napi_enumerable, NULL},
      {"syslogReadAll", NULL, syslog_read_all, NULL, NULL, NULL, napi_enumerable, NULL},
      {"releaseFilePages", NULL, release_file_pages, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}
