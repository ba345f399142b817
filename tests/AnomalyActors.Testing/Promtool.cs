using System.Diagnostics;
using Xunit;

namespace AnomalyActors.Testing;

/// <summary>Prometheus' own checker of the text exposition format (Debian's prometheus package).</summary>
public static class Promtool
{
    public static void AssertAccepts(string exposition)
    {
        var info = new ProcessStartInfo("promtool", ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var promtool = Process.Start(info)!;
        var output = promtool.StandardOutput.ReadToEndAsync();
        var errors = promtool.StandardError.ReadToEndAsync();
        promtool.StandardInput.Write(exposition);
        promtool.StandardInput.Close();
        Assert.True(promtool.WaitForExit(TimeSpan.FromSeconds(30)), "promtool did not finish");
        // Problems (lint warnings included) are printed; a clean exposition prints nothing.
        Assert.True(promtool.ExitCode == 0 && errors.Result.Trim().Length == 0 && output.Result.Trim().Length == 0,
            $"promtool check metrics: exit {promtool.ExitCode}\n{output.Result}\n{errors.Result}\n--- exposition ---\n{exposition}");
    }
}
