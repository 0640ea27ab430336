/*
 * Java's built-in Digest (HttpURLConnection with an Authenticator, OpenJDK 17; java.net.http.HttpClient has no
 * Digest): GET a URL COUNT times as USER with PASSWORD and print each status on a line, then the last body.
 * Used by test/interop/digest-clients.test.ts as `java DigestClient.java URL USER PASSWORD COUNT`.
 */
import java.io.InputStream;
import java.net.Authenticator;
import java.net.HttpURLConnection;
import java.net.PasswordAuthentication;
import java.net.URL;
import java.nio.charset.StandardCharsets;

public class DigestClient {
  public static void main(String[] args) throws Exception {
    final String user = args[1];
    final char[] password = args[2].toCharArray();
    final int count = Integer.parseInt(args[3]);
    Authenticator.setDefault(new Authenticator() {
      @Override
      protected PasswordAuthentication getPasswordAuthentication() {
        return new PasswordAuthentication(user, password);
      }
    });
    String body = "";
    for (int i = 0; i < count; i++) {
      HttpURLConnection connection = (HttpURLConnection) new URL(args[0]).openConnection();
      connection.setConnectTimeout(10_000);
      connection.setReadTimeout(10_000);
      int status = connection.getResponseCode();
      InputStream in = status >= 400 ? connection.getErrorStream() : connection.getInputStream();
      body = in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
      System.out.println(status);
    }
    System.out.print(body);
  }
}
