/* crc32.h - CRC-32C (Castagnoli), the checksum of heaplens capture files.
 *
 * CRC-32C: reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF, final
 * XOR 0xFFFFFFFF. Its check value (CRC of the ASCII bytes "123456789") is
 * 0xE3069283. The implementation is table-driven, portable C with no global
 * mutable state, so it is safe to call from any thread.
 */
#ifndef HL_CRC32_H
#define HL_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Check value of CRC-32C over "123456789", for known-answer tests. */
#define HL_CRC32C_CHECK 0xE3069283u

/* Continue a CRC-32C over len more bytes at data and return the new CRC.
 * Start a fresh checksum with crc = 0; feeding a buffer in pieces gives the
 * same result as feeding it at once:
 *     hl_crc32c_update(hl_crc32c_update(0, a, n), b, m) == CRC of a||b.
 * data may be NULL when len is 0. Never fails. */
uint32_t hl_crc32c_update(uint32_t crc, const void *data, size_t len);

/* The CRC-32C of len bytes at data; same as hl_crc32c_update(0, data, len). */
uint32_t hl_crc32c_compute(const void *data, size_t len);

#endif /* HL_CRC32_H */
