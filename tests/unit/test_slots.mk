SRCS_slots := mm/slots.c
