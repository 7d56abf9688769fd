/* The CMOS real-time clock, read once at boot to give CLOCK_REALTIME a base. */
#include "arch/arch.h"
#include "arch/x86_64/x86.h"

static uint8_t cmos(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static unsigned bcd(uint8_t v, bool binary)
{
	return binary ? v : (v & 15) + (v >> 4) * 10;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static uint64_t days(unsigned y, unsigned m, unsigned d)
{
	y -= m <= 2;
	uint64_t era = y / 400, yoe = y - era * 400;
	uint64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

uint64_t arch_rtc_seconds(void)
{
	while (cmos(0x0A) & 0x80)       /* an update is in progress */
		;
	uint8_t sec = cmos(0x00), min = cmos(0x02), hour = cmos(0x04);
	uint8_t day = cmos(0x07), mon = cmos(0x08), year = cmos(0x09), b = cmos(0x0B);
	bool bin = b & 0x04;
	unsigned h = bcd(hour & 0x7F, bin);

	if (!(b & 0x02) && (hour & 0x80))       /* 12-hour clock, PM */
		h = (h % 12) + 12;
	unsigned y = 2000 + bcd(year, bin);
	return days(y, bcd(mon, bin), bcd(day, bin)) * 86400 + h * 3600 +
	       bcd(min, bin) * 60 + bcd(sec, bin);
}
