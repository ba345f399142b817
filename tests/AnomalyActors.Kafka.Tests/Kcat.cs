using System.Diagnostics;

namespace AnomalyActors.Kafka.Tests;

/// <summary>Debian's kcat, run as a separate process: a Kafka client that is not ours.</summary>
public static class Kcat
{
    public static string Path { get; } = Locate();

    private static string Locate()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = System.IO.Path.Combine(dir, "kcat");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return string.Empty;
    }

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string stdin, TimeSpan timeout, params string[] args)
    {
        if (Path.Length == 0)
        {
            throw new InvalidOperationException("kcat is not on PATH; install it with 'apt-get install -y kcat' (CI installs it).");
        }

        var start = new ProcessStartInfo(Path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kcat {string.Join(' ', args)} did not finish within {timeout}: {await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
