using System.Net;
using System.Net.Sockets;

namespace AnomalyActors.Testing;

public static class FreePort
{
    // Below the range the OS hands out for port 0 (a dashboard on port 0, any client's socket): a
    // port taken from there and released could be handed to another process before the process it
    // was meant for binds it, as happened with a member's dashboard taking another member's port.
    private const int Lowest = 15_000;
    private static readonly int BelowEphemeral = EphemeralLow();
    private static int _next = Random.Shared.Next(0, Math.Max(1, BelowEphemeral - Lowest));

    /// <summary>A loopback port nobody listens on right now, outside the OS's range for port 0.</summary>
    public static int Next()
    {
        var span = BelowEphemeral - Lowest;
        for (var attempt = 0; attempt < Math.Min(span, 2000); attempt++)
        {
            var port = Lowest + (int)((uint)Interlocked.Increment(ref _next) % (uint)span);
            if (IsFree(port))
            {
                return port;
            }
        }

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var chosen = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return chosen;
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int EphemeralLow()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            var low = int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
            return low > Lowest + 1000 ? low : 32_768;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32_768;
        }
    }

    public static async Task WaitUntilListeningAsync(int port, TimeSpan timeout, Func<string>? diagnostics = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            catch (SocketException e)
            {
                throw new TimeoutException($"Nothing listens on 127.0.0.1:{port} after {timeout.TotalSeconds:0} s. {diagnostics?.Invoke()}", e);
            }
        }
    }
}
