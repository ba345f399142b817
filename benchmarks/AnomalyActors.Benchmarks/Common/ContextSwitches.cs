using System.Runtime.InteropServices;

namespace AnomalyActors.Benchmarks.Common;

/// <summary>
/// The process's context switches so far (all its threads, including those that have exited), from
/// getrusage(2). A thread that goes to sleep and is woken for each message costs two switches per
/// message, which CPU time per message shows only as kernel time; this count says where it comes from.
/// Null off Linux.
/// </summary>
public static class ContextSwitches
{
    private const int RusageSelf = 0;

    public static long? Read()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        // struct rusage on 64-bit Linux: two timevals (4 longs), then 14 longs ending with
        // ru_nvcsw (voluntary) and ru_nivcsw (involuntary).
        var usage = new long[18];
        return GetRusage(RusageSelf, usage) == 0 ? usage[16] + usage[17] : null;
    }

    /// <summary>Switches per message between two readings, or -1 when unknown.</summary>
    public static double PerMessage(long? before, long? after, long messages) =>
        before is { } from && after is { } to && messages > 0 ? Math.Round((double)(to - from) / messages, 2) : -1;

    [DllImport("libc", EntryPoint = "getrusage")]
    private static extern int GetRusage(int who, [Out] long[] usage);
}
