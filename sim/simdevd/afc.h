/* afc.h: the Apple File Conduit service of the simulated phone (com.apple.afc), the part
 * of the phone's media folder a computer may read and write. Served from
 * <device folder>/media beside the device's data. Registered from a constructor; this
 * header only names the protocol constants the implementation and its tests share. */
#ifndef SIM_AFC_H
#define SIM_AFC_H

#define AFC_MAGIC "CFA6LPAA"
#define AFC_HEADER_SIZE 40            /* magic, entire_length, this_length, packet_num, operation */
#define AFC_MAX_PACKET (8u * 1024u * 1024u)

enum {
    AFC_OP_STATUS = 0x01, AFC_OP_DATA = 0x02, AFC_OP_READ_DIR = 0x03, AFC_OP_REMOVE_PATH = 0x08,
    AFC_OP_MAKE_DIR = 0x09, AFC_OP_GET_FILE_INFO = 0x0a, AFC_OP_GET_DEVINFO = 0x0b,
    AFC_OP_FILE_OPEN = 0x0d, AFC_OP_FILE_OPEN_RES = 0x0e, AFC_OP_FILE_READ = 0x0f,
    AFC_OP_FILE_WRITE = 0x10, AFC_OP_FILE_SEEK = 0x11, AFC_OP_FILE_TELL = 0x12,
    AFC_OP_FILE_TELL_RES = 0x13, AFC_OP_FILE_CLOSE = 0x14, AFC_OP_FILE_SET_SIZE = 0x15,
    AFC_OP_RENAME_PATH = 0x18, AFC_OP_FILE_LOCK = 0x1b, AFC_OP_REMOVE_PATH_AND_CONTENTS = 0x22,
};

enum {
    AFC_OK = 0, AFC_ERR_UNKNOWN = 1, AFC_ERR_HEADER_INVALID = 2, AFC_ERR_NO_RESOURCES = 3,
    AFC_ERR_READ = 4, AFC_ERR_WRITE = 5, AFC_ERR_INVALID_ARG = 7, AFC_ERR_NOT_FOUND = 8,
    AFC_ERR_IS_DIR = 9, AFC_ERR_PERM_DENIED = 10, AFC_ERR_NOT_SUPPORTED = 15,
    AFC_ERR_EXISTS = 16, AFC_ERR_NO_SPACE = 18, AFC_ERR_WOULD_BLOCK = 19, AFC_ERR_IO = 20,
    AFC_ERR_DIR_NOT_EMPTY = 33,
};

#endif
