package dev.flashcl.internal.cl;

import java.util.Locale;

/** Byte counts for people: 1.5 GB, 20.0 KB (powers of 1000, as drivers and datasheets state them). */
public final class Bytes {
    private Bytes() {}

    public static String format(long bytes) {
        if (bytes < 1000) return bytes + " B";
        String[] units = {"KB", "MB", "GB", "TB"};
        double v = bytes;
        int u = -1;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
