using System.Globalization;

namespace AnomalyActors.Benchmarks.Common;

/// <summary>
/// The machine's CPU time from /proc/stat: how much the hypervisor took (steal) while a part was
/// timed. These machines are shared, and the same code has run at rates 2x apart; a run's steal
/// says whether it was starved rather than slow; its busy share says whether the cores were saturated
/// (queueing, not the code's own path, then makes the latency). Null where /proc/stat is missing (not Linux).
/// </summary>
public readonly record struct HostCpu(long Steal, long Idle, long Total)
{
    public static HostCpu? Read()
    {
        try
        {
            // "cpu  user nice system idle iowait irq softirq steal guest guest_nice" (USER_HZ ticks);
            // guest time is already counted in user, so it is left out of the total.
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields[0] != "cpu" || fields.Length < 9)
            {
                return null;
            }

            var ticks = fields.Skip(1).Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            return new HostCpu(ticks[7], ticks[3] + ticks[4], ticks.Sum());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Percent of the machine's CPU time between two readings that was stolen, or -1 when unknown.</summary>
    public static double StealPercent(HostCpu? before, HostCpu? after)
    {
        if (before is not { } from || after is not { } to || to.Total <= from.Total)
        {
            return -1;
        }

        return Math.Round(100.0 * (to.Steal - from.Steal) / (to.Total - from.Total), 1);
    }

    /// <summary>Percent of the machine's CPU time between two readings that was neither idle nor waiting for I/O (steal included), or -1 when unknown.</summary>
    public static double BusyPercent(HostCpu? before, HostCpu? after)
    {
        if (before is not { } from || after is not { } to || to.Total <= from.Total)
        {
            return -1;
        }

        return Math.Round(100.0 - 100.0 * (to.Idle - from.Idle) / (to.Total - from.Total), 1);
    }
}
